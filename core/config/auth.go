package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Auth defaults (those of keystonemiddleware where it has one).
const (
	// MinTokenLength is the shortest static token value accepted.
	MinTokenLength         = 16
	DefaultKeystoneDomain  = "Default"
	DefaultCacheTTL        = 5 * time.Minute // keystonemiddleware's token_cache_time
	DefaultCacheSize       = 10000
	DefaultKeystoneTimeout = 5 * time.Second
)

// AuthConfig is the auth {} block.
type AuthConfig struct {
	Mode          string // noauth, keystone or tokens
	AllowInsecure bool
	// Tokens are the token {} blocks of mode "tokens", in file order.
	Tokens []TokenConfig
	// Keystone is the keystone {} block of mode "keystone", else nil.
	Keystone *KeystoneConfig
}

// TokenConfig is one token {} block: a static token and whom it stands
// for. Value is a secret: never log or print it.
type TokenConfig struct {
	Value   string
	User    string
	Project string // "" for a token scoped to no project
	Roles   []string
	// DeclRange is the token block's definition range.
	DeclRange hcl.Range
}

// String describes the token without its value.
func (t TokenConfig) String() string {
	return fmt.Sprintf("token(user=%q project=%q roles=%v at %s)", t.User, t.Project, t.Roles, posString(t.DeclRange))
}

// KeystoneConfig is the keystone {} block: where Keystone is and the
// service credentials glance-api validates tokens with. Password is a
// secret: never log or print it.
type KeystoneConfig struct {
	AuthURL           string // the v3 endpoint, such as http://127.0.0.1:5000/v3
	Username          string
	Password          string
	ProjectName       string
	UserDomainName    string // default "Default"
	ProjectDomainName string // default "Default"
	// WWWAuthenticateURI is sent in WWW-Authenticate with a 401; default
	// AuthURL without a trailing /v3.
	WWWAuthenticateURI string
	CacheTTL           time.Duration // default DefaultCacheTTL; 0: no caching
	CacheSize          int           // default DefaultCacheSize
	Timeout            time.Duration // per Keystone request, default DefaultKeystoneTimeout

	DeclRange hcl.Range
}

// String describes the block without the password.
func (k KeystoneConfig) String() string {
	return fmt.Sprintf("keystone(auth_url=%q username=%q project_name=%q)", k.AuthURL, k.Username, k.ProjectName)
}

var authSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "mode"}, {Name: "allow_insecure"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "token"}, {Type: "keystone"}},
}

func (c *Config) decodeAuth(body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := body.Content(authSchema)
	modeRange := body.MissingItemRange()
	if a := content.Attributes["mode"]; a != nil {
		modeRange = a.Expr.Range()
		d := decodeString(a, ctx, &c.Auth.Mode)
		diags = append(diags, d...)
		if !d.HasErrors() && !oneOf(c.Auth.Mode, AuthModes) {
			diags = append(diags, attrError(a, "Invalid auth mode",
				fmt.Sprintf("mode must be one of %s; got %q.", quoteList(AuthModes), c.Auth.Mode)))
		}
	}
	if a := content.Attributes["allow_insecure"]; a != nil {
		diags = append(diags, decodeValue(a, ctx, cty.Bool, &c.Auth.AllowInsecure)...)
	}
	var ksBlock *hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "token":
			if c.Auth.Mode != "tokens" {
				diags = append(diags, unusedBlock(b, "tokens", c.Auth.Mode))
				continue
			}
			diags = append(diags, c.decodeToken(b, ctx)...)
		case "keystone":
			if c.Auth.Mode != "keystone" {
				diags = append(diags, unusedBlock(b, "keystone", c.Auth.Mode))
				continue
			}
			if ksBlock != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate keystone block",
					Detail:   fmt.Sprintf("Only one keystone block is allowed; the first one is at %s.", posString(ksBlock.DefRange)),
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			ksBlock = b
			diags = append(diags, c.decodeKeystone(b, ctx)...)
		}
	}
	if diags.HasErrors() {
		return diags
	}
	switch c.Auth.Mode {
	case "tokens":
		if len(c.Auth.Tokens) == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No token declared",
				Detail:   "auth mode \"tokens\" needs at least one token { value = …, user = …, project = …, roles = […] } block.",
				Subject:  modeRange.Ptr(),
			})
		}
	case "keystone":
		if ksBlock == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing keystone block",
				Detail:   "auth mode \"keystone\" needs a keystone { auth_url = …, username = …, password = …, project_name = … } block.",
				Subject:  modeRange.Ptr(),
			})
		}
	}
	return diags
}

func unusedBlock(b *hcl.Block, mode, got string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Unexpected %s block", b.Type),
		Detail:   fmt.Sprintf("A %s block is used only with auth mode %q; the mode is %q.", b.Type, mode, got),
		Subject:  b.DefRange.Ptr(),
	}
}

var tokenSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "value", Required: true}, {Name: "user", Required: true}, {Name: "project"}, {Name: "roles"},
}}

// decodeToken decodes one token {} block. Diagnostics about the value
// point at the block, not at the value, and never quote it: a snippet of
// the value's line could show a literal secret.
func (c *Config) decodeToken(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(tokenSchema)
	t := TokenConfig{DeclRange: b.DefRange}
	if a := content.Attributes["user"]; a != nil {
		d := decodeString(a, ctx, &t.User)
		diags = append(diags, d...)
		if !d.HasErrors() && strings.TrimSpace(t.User) == "" {
			diags = append(diags, attrError(a, "Invalid user", "user must not be empty."))
		}
	}
	if a := content.Attributes["project"]; a != nil {
		diags = append(diags, decodeString(a, ctx, &t.Project)...)
	}
	if a := content.Attributes["roles"]; a != nil {
		v, d := evalAttr(a, ctx, cty.List(cty.String))
		diags = append(diags, d...)
		if !d.HasErrors() && !v.IsNull() {
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.IsNull() || strings.TrimSpace(e.AsString()) == "" {
					diags = append(diags, attrError(a, "Invalid roles", "roles must be a list of non-empty role names, such as [\"member\", \"reader\"]."))
					t.Roles = nil
					break
				}
				t.Roles = append(t.Roles, e.AsString())
			}
		}
	}
	if a := content.Attributes["value"]; a != nil {
		line := a.Range.Start.Line
		v, d := evalAttr(a, ctx, cty.String)
		if d.HasErrors() {
			// Evaluation errors (an unset env(), a missing file()) name
			// the variable or file, never a value.
			diags = append(diags, d...)
		} else {
			switch {
			case v.IsNull() || v.AsString() == "":
				diags = append(diags, tokenError(b, "Empty token value", fmt.Sprintf("The value at line %d is empty.", line)))
			case len(v.AsString()) < MinTokenLength:
				diags = append(diags, tokenError(b, "Token value too short",
					fmt.Sprintf("The value at line %d has %d characters; a token needs at least %d (use a random string, such as the output of `openssl rand -hex 32`).",
						line, len(v.AsString()), MinTokenLength)))
			case strings.TrimSpace(v.AsString()) != v.AsString() || strings.ContainsAny(v.AsString(), "\r\n\t"):
				diags = append(diags, tokenError(b, "Invalid token value",
					fmt.Sprintf("The value at line %d has leading or trailing white space or control characters, which an X-Auth-Token header cannot carry.", line)))
			default:
				t.Value = v.AsString()
			}
		}
	}
	if t.Value != "" {
		for _, other := range c.Auth.Tokens {
			if other.Value == t.Value {
				diags = append(diags, tokenError(b, "Duplicate token value",
					fmt.Sprintf("This token (user %q) has the same value as the token of user %q at %s; each token must be distinct.",
						t.User, other.User, posString(other.DeclRange))))
				t.Value = ""
				break
			}
		}
	}
	if !diags.HasErrors() {
		c.Auth.Tokens = append(c.Auth.Tokens, t)
	}
	return diags
}

func tokenError(b *hcl.Block, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: b.DefRange.Ptr()}
}

var keystoneSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "auth_url", Required: true}, {Name: "username", Required: true}, {Name: "password", Required: true},
	{Name: "project_name", Required: true}, {Name: "user_domain_name"}, {Name: "project_domain_name"},
	{Name: "www_authenticate_uri"}, {Name: "cache_ttl"}, {Name: "cache_size"}, {Name: "timeout"},
}}

func (c *Config) decodeKeystone(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(keystoneSchema)
	k := &KeystoneConfig{
		UserDomainName: DefaultKeystoneDomain, ProjectDomainName: DefaultKeystoneDomain,
		CacheTTL: DefaultCacheTTL, CacheSize: DefaultCacheSize, Timeout: DefaultKeystoneTimeout,
		DeclRange: b.DefRange,
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"username", &k.Username}, {"project_name", &k.ProjectName},
		{"user_domain_name", &k.UserDomainName}, {"project_domain_name", &k.ProjectDomainName},
	} {
		if a := content.Attributes[f.name]; a != nil {
			d := decodeString(a, ctx, f.dst)
			diags = append(diags, d...)
			if !d.HasErrors() && strings.TrimSpace(*f.dst) == "" {
				diags = append(diags, attrError(a, "Invalid "+f.name, f.name+" must not be empty."))
			}
		}
	}
	if a := content.Attributes["password"]; a != nil {
		v, d := evalAttr(a, ctx, cty.String)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if v.IsNull() || v.AsString() == "" {
				// Pointing at the block: a snippet of the line could show
				// a literal password.
				diags = append(diags, tokenError(b, "Empty password",
					fmt.Sprintf("The password at line %d is empty.", a.Range.Start.Line)))
			} else {
				k.Password = v.AsString()
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"auth_url", &k.AuthURL}, {"www_authenticate_uri", &k.WWWAuthenticateURI}} {
		if a := content.Attributes[f.name]; a != nil {
			d := decodeString(a, ctx, f.dst)
			diags = append(diags, d...)
			if !d.HasErrors() {
				u, err := url.Parse(*f.dst)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
					diags = append(diags, attrError(a, "Invalid "+f.name,
						f.name+" must be an absolute http:// or https:// URL without credentials or query, such as \"http://127.0.0.1:5000/v3\"."))
				}
			}
		}
	}
	k.AuthURL = strings.TrimRight(k.AuthURL, "/")
	if k.WWWAuthenticateURI == "" {
		k.WWWAuthenticateURI = strings.TrimSuffix(k.AuthURL, "/v3")
	}
	for _, f := range []struct {
		name string
		dst  *time.Duration
		min  time.Duration
	}{{"cache_ttl", &k.CacheTTL, 0}, {"timeout", &k.Timeout, time.Millisecond}} {
		if a := content.Attributes[f.name]; a != nil {
			var s string
			d := decodeString(a, ctx, &s)
			diags = append(diags, d...)
			if d.HasErrors() || s == "" {
				continue
			}
			v, err := time.ParseDuration(s)
			if err != nil || v < f.min {
				diags = append(diags, attrError(a, "Invalid duration",
					fmt.Sprintf("%s must be a duration such as \"30s\", \"5m\" or \"1h30m\" (at least %s).", f.name, f.min)))
				continue
			}
			*f.dst = v
		}
	}
	if a := content.Attributes["cache_size"]; a != nil {
		d := decodeValue(a, ctx, cty.Number, &k.CacheSize)
		diags = append(diags, d...)
		if !d.HasErrors() && k.CacheSize < 1 {
			diags = append(diags, attrError(a, "Invalid cache_size", "cache_size must be a positive number of tokens (set cache_ttl = \"0s\" to cache none)."))
		}
	}
	c.Auth.Keystone = k
	return diags
}
