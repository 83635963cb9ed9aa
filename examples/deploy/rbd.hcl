# glance-api with its images in Ceph RBD, laid out as Glance lays them out:
# each image is the RBD image <pool>/<image id> with a protected snapshot
# "snap", so Nova and Cinder clone it copy-on-write. Its location is
# rbd://<fsid>/<pool>/<image id>/snap.
#
# Every connection setting comes from the environment, under the names that
# scripts/ceph-micro.sh exports, so this runs as is:
#
#   apt-get install librados-dev librbd-dev   # make build skips the rbd plugin without them
#   make build
#   eval "$(scripts/ceph-micro.sh up /tmp/ceph)"
#   mkdir -p data && bin/glance-api -config examples/deploy/rbd.hcl
#
# glance-api finds glance-store-rbd beside itself (no plugin_dir). Check a
# copy with `bin/glance-api validate -config rbd.hcl`; `bin/glance-store-rbd
# describe` lists every attribute of the config {} block.

api {
  bind = "127.0.0.1:9292"
}

registry {
  driver = "sqlite"
  dsn    = "data/glance.db"
}

# Development only: every caller is an admin. Loopback only.
auth {
  mode = "noauth"
}

store "ceph" {
  plugin  = "rbd"
  default = true
  config {
    # The cluster's monitors, and the keyring of the user: ceph.conf's
    # `keyring = …` line (e.g. /etc/ceph/ceph.client.$name.keyring). No
    # secret goes in this file; do not set CEPH_KEYRING in glance-api's
    # environment either (it would override every user's keyring).
    ceph_conf = env("CEPH_CONF", "/etc/ceph/ceph.conf")
    user      = env("CEPH_GLANCE_USER", "glance") # cephx id: client.glance, caps "profile rbd pool=images"
    pool      = env("CEPH_POOL", "images")       # must exist and be initialised (rbd pool init)

    # RBD object size: a power of two, 4 KiB .. 32 MiB (Glance's
    # rbd_store_chunk_size). Memory per upload is about 4 x chunk_size.
    chunk_size = 8388608 # 8 MiB

    # Connecting to the monitors, and each monitor operation, may take this
    # long; an unreachable cluster leaves the store unhealthy, not the API down.
    connect_timeout = "30s"
  }
}
