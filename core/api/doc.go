// Package api serves the OpenStack Images API v2 over HTTP with gin, the
// way Glance answers it: the same paths, status codes, headers
// (x-openstack-request-id, Location, Content-MD5, Content-Range), JSON
// bodies (Python-style ", " and ": " separators, ASCII only) and webob
// error pages (HTML by default, JSON for Accept: application/json).
//
// New builds the handler from a registry.Repository (metadata) and a Stores
// (the plugin host: image data). Image data is streamed, never buffered:
// an upload is read once while md5 and the os_hash algorithm are computed
// in parallel (core/image/checksum) and the bytes flow to the store's Put;
// a download streams from the store's Get, or straight from the file with
// sendfile when the store is local (store.LocalFiler).
//
// Who calls is an Identity in the request context. Without an
// Authenticate function every caller is an admin of project "admin"
// (noauth, as Glance's unauthenticated context).
package api
