# glance-api with its images in an S3 bucket: AWS S3, Ceph radosgw, MinIO, …
#
# Every connection setting comes from the environment, under the names that
# scripts/ceph-micro.sh exports for its radosgw, so this runs as is:
#
#   make build
#   eval "$(scripts/ceph-micro.sh up /tmp/ceph)"
#   mkdir -p data && bin/glance-api -config examples/deploy/s3.hcl
#
# glance-api finds glance-store-s3 beside itself (no plugin_dir). Check a
# copy with `bin/glance-api validate -config s3.hcl`; `bin/glance-store-s3
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

store "s3" {
  plugin  = "s3"
  default = true
  config {
    endpoint      = env("S3_ENDPOINT")            # e.g. http://127.0.0.1:7480; leave out for AWS
    region        = env("S3_REGION", "us-east-1") # signs requests (SigV4)
    path_style    = true                          # radosgw, MinIO and IP endpoints need it
    bucket        = env("S3_BUCKET", "glance-images")
    create_bucket = true                          # else a missing bucket leaves the store unhealthy
    prefix        = "images"                      # objects are images/<image id>

    # Sensitive: never logged, never in an image's location.
    access_key = env("S3_ACCESS_KEY")
    secret_key = env("S3_SECRET_KEY")

    # Uploads stream as multipart uploads; memory per upload is at most
    # (parts_in_flight + 1) x part_size, whatever the image's size.
    part_size       = 8388608 # 8 MiB (the default)
    parts_in_flight = 4       # the default

    # For an https endpoint with a private CA:
    # ca_file = "/etc/glance/s3-ca.pem"
    connect_timeout = "10s"
  }
}
