plugin_dir = "bin"

api {
  bind            = "0.0.0.0:9393"
  public_endpoint = "https://glance.example.com"
}

registry {
  driver = "postgres"
  dsn    = env("GLANCE_TEST_DSN", "postgres://localhost/glance")
}

auth {
  mode           = "keystone"
  allow_insecure = true
  keystone {
    auth_url     = "http://keystone.example.com:5000/v3/"
    username     = "glance"
    password     = file("secret.txt")
    project_name = "service"
    cache_ttl    = "1m"
  }
}

images {
  size_cap      = 1073741824
  cache_control = "no-cache"
}

store "local" {
  plugin = "filesystem"
  config {
    data_dir = "data/images"
  }
}

store "s3-primary" {
  plugin  = "s3"
  default = true
  sha256  = "9F2C000000000000000000000000000000000000000000000000000000000abc"
  config {
    bucket     = "images"
    secret_key = file("secret.txt")
  }
}
