package auth

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/core/api"
	"github.com/glance-go/glance/core/config"
)

// TokenHeader is the request header that carries the caller's token.
const TokenHeader = "X-Auth-Token"

// Authenticator identifies callers.
type Authenticator interface {
	// Authenticate is an api.AuthFunc.
	Authenticate(r *http.Request) (api.Identity, error)
	// Challenge is the WWW-Authenticate value for a 401, or "".
	Challenge() string
}

// New returns the Authenticator for an auth {} block; nil for noauth (the
// API then makes every caller an admin).
func New(ctx context.Context, cfg config.AuthConfig, logger hclog.Logger) (Authenticator, error) {
	switch cfg.Mode {
	case "", "noauth":
		return nil, nil
	case "tokens":
		toks := make([]StaticToken, len(cfg.Tokens))
		for i, t := range cfg.Tokens {
			toks[i] = StaticToken{Value: t.Value, UserID: t.User, ProjectID: t.Project, Roles: t.Roles}
		}
		return NewTokens(toks)
	case "keystone":
		if cfg.Keystone == nil {
			return nil, fmt.Errorf("auth: mode keystone without a keystone block")
		}
		k := cfg.Keystone
		return NewKeystone(ctx, KeystoneOptions{
			AuthURL: k.AuthURL, Username: k.Username, Password: k.Password, ProjectName: k.ProjectName,
			UserDomainName: k.UserDomainName, ProjectDomainName: k.ProjectDomainName,
			WWWAuthenticateURI: k.WWWAuthenticateURI, CacheTTL: k.CacheTTL, CacheSize: k.CacheSize,
			Timeout: k.Timeout, Logger: logger,
		})
	}
	return nil, fmt.Errorf("auth: unknown mode %q", cfg.Mode)
}

// identity builds the caller from what a token stands for.
func identity(user, project string, roles []string) api.Identity {
	id := api.Identity{UserID: user, ProjectID: project, Roles: append([]string(nil), roles...)}
	for _, r := range roles {
		if r == "admin" {
			id.IsAdmin = true
		}
	}
	return id
}

// unauthenticated wraps api.ErrUnauthenticated with a reason that names no
// secret.
func unauthenticated(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), api.ErrUnauthenticated)
}
