package api

import (
	"context"
	"net/http"
)

// Identity is who is calling: what the auth layer establishes and the
// policy checks consume.
type Identity struct {
	UserID    string
	ProjectID string
	Roles     []string
	IsAdmin   bool
	// GlobalRequestID is an inbound x-openstack-request-id of the form
	// req-<uuid>, kept for logs.
	GlobalRequestID string
}

// NoAuthIdentity is the caller in noauth mode: an admin of project
// "admin".
func NoAuthIdentity() Identity {
	return Identity{UserID: "admin", ProjectID: "admin", Roles: []string{"admin", "member", "reader"}, IsAdmin: true}
}

// AuthFunc identifies the caller of a request. An error wrapping
// ErrUnauthenticated gives 401.
type AuthFunc func(r *http.Request) (Identity, error)

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the caller stored in ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
