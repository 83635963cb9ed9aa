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
//
// Access follows Glance with its secure-RBAC defaults, visibility first
// and policy second: an image the caller cannot see (another project's
// private image, a shared one its project is no member of) is not found,
// whatever the operation, members calls included; a visible image that the
// operation's rule refuses is 403. The rules are core/policy's, by
// Glance's names (get_image, modify_image, download_image, add_member, …),
// with Options.Policy carrying the operator's overrides. An operation
// other than show whose rule refuses a caller that get_image refuses too
// is not found either (Glance's ImageAPIPolicy). The members API
// (/v2/images/{id}/members) is here too, with Glance's image_member_quota
// (Options.MemberQuota).
package api
