// Package auth identifies the callers of the Images API from their
// X-Auth-Token header, in the modes of config.hcl's auth {} block:
//
//   - tokens: static tokens declared in the configuration, each standing
//     for a user, a project and roles. Lookups hash the presented token and
//     compare in constant time.
//   - keystone: tokens validated against Keystone v3 (GET /v3/auth/tokens
//     with the service's own token, obtained by password authentication
//     from the configured service credentials and renewed before it
//     expires or when Keystone refuses it). Valid tokens are cached, in a
//     bounded LRU, until the earlier of their expiry and the cache TTL.
//   - noauth: no Authenticator at all; the API makes every caller an admin.
//
// An Authenticator's Authenticate is an api.AuthFunc: an unknown, invalid,
// revoked or expired token gives an error wrapping api.ErrUnauthenticated
// (401, with Challenge as WWW-Authenticate); Keystone unreachable, failing
// or refusing the service credentials gives an error that does not (503).
// Tokens and passwords never appear in errors or logs.
package auth
