# glance-api with its images in an OpenStack Swift container (or any Swift
# API, such as Ceph radosgw's).
#
# Every connection setting comes from the environment, under the names that
# scripts/swift-saio.sh exports for its Swift all-in-one, so this runs as is:
#
#   make build
#   eval "$(scripts/swift-saio.sh up /tmp/saio)"
#   mkdir -p data && bin/glance-api -config examples/deploy/swift.hcl
#
# glance-api finds glance-store-swift beside itself (no plugin_dir). Check a
# copy with `bin/glance-api validate -config swift.hcl`; `bin/glance-store-swift
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

store "swift" {
  plugin  = "swift"
  default = true
  config {
    # tempauth (v1): http://host:8080/auth/v1.0 with user "account:user".
    # Keystone v3: https://keystone:5000/v3 with user_domain, project and
    # project_domain (and region, endpoint_type) set below.
    auth_url = env("SWIFT_AUTH_URL")
    user     = env("SWIFT_USER")
    # Sensitive: never logged, never in an image's location.
    key = env("SWIFT_KEY")

    # user_domain    = "Default"
    # project        = "service"
    # project_domain = "Default"
    # region         = "RegionOne"
    # endpoint_type  = "internal"

    container        = env("SWIFT_CONTAINER", "glance")
    create_container = true # else a missing container leaves the store unhealthy

    # Images of a known size above the threshold, and every upload of
    # unknown size (chunked PUT), are stored as static large objects of
    # segment_size segments; memory per upload stays small either way.
    large_object_threshold = 1073741824 # 1 GiB
    segment_size           = 209715200  # 200 MiB

    connect_timeout = "10s"
    timeout         = "60s" # a transfer without progress for this long fails
    # For an https endpoint with a private CA:
    # ca_file = "/etc/glance/swift-ca.pem"
  }
}
