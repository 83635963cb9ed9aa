# glance-api with OpenStack Keystone authentication and a filesystem store.
#
# Every caller presents a Keystone v3 token in X-Auth-Token; glance-api
# validates it with Keystone (GET /v3/auth/tokens), using a token of its own
# service user, and takes the caller's user, project and roles from it, as
# keystonemiddleware's auth_token does for Glance. The Keystone URL and the
# service credentials come from the environment, under the names that
# scripts/keystone.sh exports for its Keystone on loopback, so this runs as is:
#
#   make build
#   eval "$(scripts/keystone.sh up /tmp/keystone)"
#   mkdir -p data/images && bin/glance-api -config examples/deploy/keystone.hcl
#   TOKEN=$(openstack --os-username demo --os-project-name demo token issue -f value -c id)
#   curl -H "X-Auth-Token: $TOKEN" http://127.0.0.1:9292/v2/images
#
# The service user needs the "service" (or "admin") role on its project to
# validate other users' tokens. Check a copy with
# `bin/glance-api validate -config keystone.hcl`.

api {
  bind = "127.0.0.1:9292"
}

registry {
  driver = "sqlite"
  dsn    = "data/glance.db"
}

auth {
  mode = "keystone"
  keystone {
    # Keystone's v3 endpoint, such as http://127.0.0.1:5001/v3.
    auth_url = env("OS_AUTH_URL")
    # glance-api's own service user, scoped to its project.
    username = env("GLANCE_SERVICE_USER")
    # Sensitive: never logged, never in an error.
    password            = env("GLANCE_SERVICE_PASSWORD")
    project_name        = env("GLANCE_SERVICE_PROJECT")
    user_domain_name    = "Default"
    project_domain_name = "Default"

    # Sent as WWW-Authenticate: Keystone uri="…" with every 401
    # (default: auth_url without /v3).
    # www_authenticate_uri = "https://keystone.example.com"

    # A validated token is trusted for at most cache_ttl (keystonemiddleware's
    # token_cache_time): a revoked token may be accepted that long. "0s"
    # asks Keystone on every request.
    cache_ttl  = "5m"
    cache_size = 10000 # tokens, least recently used evicted first
    # Each request to Keystone; Keystone unreachable or slow is a 503.
    timeout = "5s"
  }
}

store "local" {
  plugin  = "filesystem"
  default = true
  config {
    data_dir = "data/images"
  }
}
