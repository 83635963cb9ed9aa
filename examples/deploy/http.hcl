# glance-api with a read-only http store beside a writable default store.
#
# The http store reads image data at the http(s) URLs an operator adds to an
# image as locations (as Glance's http store does); it never writes, so the
# images uploaded through the API go to the default filesystem store. It
# needs no credentials; the settings below come from the environment with
# defaults, so this runs as is:
#
#   make build
#   mkdir -p data && bin/glance-api -config examples/deploy/http.hcl
#
# glance-api finds glance-store-http and glance-store-filesystem beside
# itself (no plugin_dir). Check a copy with `bin/glance-api validate -config
# http.hcl`; `bin/glance-store-http describe` lists every attribute.

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

store "local" {
  plugin  = "filesystem"
  default = true
  config {
    data_dir = env("GLANCE_DATA_DIR", "data/images")
  }
}

store "http" {
  plugin = "http"
  config {
    # TLS certificates are verified unless this is true (testing only).
    insecure_skip_verify = false
    # For https servers with a private CA (a PEM file):
    # ca_file = "/etc/glance/http-ca.pem"
    connect_timeout = env("GLANCE_HTTP_CONNECT_TIMEOUT", "10s")
    read_timeout    = env("GLANCE_HTTP_READ_TIMEOUT", "60s") # headers, and any progress of a body
    max_redirects   = 5                                      # at most 5; never from https to http
  }
}
