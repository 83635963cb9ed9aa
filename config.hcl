# glance-go configuration for `make run`: embedded SQLite and a filesystem
# store under ./data, serving on loopback in development mode (noauth: every
# caller is an admin). See README.md.
api      { bind = "127.0.0.1:9292" }
registry {
  driver = "sqlite"
  dsn    = "data/glance.db"
}
auth { mode = "noauth" }

store "local" {
  plugin  = "filesystem" # runs glance-store-filesystem from plugin_dir (default: glance-api's own directory)
  default = true
  config {
    data_dir = "data/images"
  }
}
