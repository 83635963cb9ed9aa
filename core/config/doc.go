// Package config loads a glance-go deployment's HCL configuration file
// (config.hcl, native HCL syntax only).
//
// A configuration looks like:
//
//	plugin_dir = "bin"                      # optional; "" means the caller's default
//	api      { bind = "127.0.0.1:9292"  public_endpoint = "" }
//	registry { driver = "sqlite"  dsn = "data/glance.db" }   # or "postgres", dsn = env("GLANCE_DB")
//	auth     { mode = "noauth"  allow_insecure = false }      # noauth | keystone | tokens
//	images   { size_cap = 1099511627776  cache_control = "" }
//	store "local" {
//	  plugin  = "filesystem"                # runs glance-store-filesystem from plugin_dir
//	  default = true
//	  sha256  = "…64 hex chars…"            # optional
//	  config { data_dir = "data/images" }   # decoded later against the plugin's schema
//	}
//
// Expressions may call env("NAME") or env("NAME", "default"), and
// file("path") which reads a file relative to the configuration file's
// directory (trailing newlines trimmed). Values produced by these functions
// are never logged by this package.
//
// Every problem is reported as an hcl.Diagnostic with a source range;
// Config.WriteDiagnostics and FormatDiagnostics render them as
// "file.hcl:LINE:COL: error: summary; detail" followed by a source snippet.
//
// Relative paths (plugin_dir, dsn, file names inside store configs) are kept
// as written; Config.Dir records the configuration file's directory so the
// caller may resolve them as it sees fit.
//
// A store's config {} block is kept as an hcl.Body and decoded only once the
// plugin's store.Schema is known, with StoreConfig.DecodeConfig. Diagnostics
// that the plugin returns about that configuration are mapped back onto the
// file with StoreConfig.PluginDiagnostics.
package config
