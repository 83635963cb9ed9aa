// Package storage is glance-api's plugin host. It starts one store plugin
// process per store "id" {} block of config.hcl, verifies and configures it,
// probes it before serving, restarts it with backoff when it dies, and drains
// in-flight calls before stopping it.
//
// A Host hands out store.Backend values that outlive any one plugin process:
// a call made while the plugin is down waits briefly for the restart, and a
// plugin that dies fails only the calls it was serving.
package storage
