// Package httpstore is glance-go's read-only store for image data at
// http(s) URLs, the locations an operator adds to an image (Glance's http
// store). It never writes nor deletes: Put and Delete answer
// store.ErrUnsupported, and its capabilities are read, read-range and
// concurrent-safe only.
//
// A location is the absolute http or https URL itself, without credentials
// (a URL with user information is refused). Get sends an HTTP Range request
// for a part, and copes with servers that ignore it; Stat is a HEAD (or a
// GET when HEAD gives no length). A read follows at most max_redirects (at
// most 5) redirects, never from https to http. TLS certificates are verified
// unless insecure_skip_verify is set; ca_file replaces the system's CAs.
// connect_timeout bounds connecting, read_timeout the wait for response
// headers and for every read of a body.
//
// The store connects only to the host a location (or a redirect it
// follows) names: it uses no proxy, not even one from the environment.
package httpstore
