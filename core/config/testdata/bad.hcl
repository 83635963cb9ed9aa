api {
  bnd = "127.0.0.1:9292"
}
store "local" {
  plugin = "filesystem"
}
