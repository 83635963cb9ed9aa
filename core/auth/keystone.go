package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/singleflight"

	"github.com/glance-go/glance/core/api"
)

// MaxTokenLength is the longest X-Auth-Token sent to Keystone; Fernet
// tokens are about 200 characters, JWS tokens under 1000.
const MaxTokenLength = 8192

// maxKeystoneBody bounds what is read of a Keystone answer.
const maxKeystoneBody = 1 << 20

// KeystoneOptions configure NewKeystone. Password is a secret.
type KeystoneOptions struct {
	AuthURL           string // Keystone's v3 endpoint, such as http://127.0.0.1:5000/v3
	Username          string
	Password          string
	ProjectName       string
	UserDomainName    string // default "Default"
	ProjectDomainName string // default "Default"
	// WWWAuthenticateURI goes into the 401 challenge; default AuthURL
	// without /v3.
	WWWAuthenticateURI string
	// CacheTTL is the longest a validated token is trusted without asking
	// Keystone again (a revocation takes up to this long to be seen); 0
	// disables the cache.
	CacheTTL time.Duration
	// CacheSize is the most tokens cached; default 10000.
	CacheSize int
	// Timeout bounds each request to Keystone; default 5s.
	Timeout time.Duration
	Logger  hclog.Logger
	// HTTPClient, when set, is used for Keystone (its Timeout is kept).
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Keystone authenticates callers by Keystone v3 tokens.
type Keystone struct {
	o         KeystoneOptions
	client    *http.Client
	log       hclog.Logger
	challenge string
	cache     *tokenCache // nil when CacheTTL is 0
	// flight makes concurrent first uses of one token (a client's burst
	// of requests) share one validation.
	flight singleflight.Group

	mu         sync.Mutex // guards the service token; held while obtaining one
	svcToken   string
	svcRefresh time.Time // obtain a new service token from then on
	// svcErr is the last failure to obtain a service token, returned
	// without asking Keystone again until svcErrUntil: with Keystone down,
	// requests queued on mu fail at once instead of one timeout each.
	svcErr      error
	svcErrUntil time.Time
}

// serviceRetry is how long a failure to obtain the service token is
// returned without asking Keystone again.
const serviceRetry = time.Second

// NewKeystone returns a Keystone authenticator. It does not contact
// Keystone; Check does.
func NewKeystone(_ context.Context, o KeystoneOptions) (*Keystone, error) {
	if o.AuthURL == "" || o.Username == "" || o.Password == "" || o.ProjectName == "" {
		return nil, errors.New("auth: keystone needs auth_url, username, password and project_name")
	}
	o.AuthURL = strings.TrimRight(o.AuthURL, "/")
	if o.UserDomainName == "" {
		o.UserDomainName = "Default"
	}
	if o.ProjectDomainName == "" {
		o.ProjectDomainName = "Default"
	}
	if o.WWWAuthenticateURI == "" {
		o.WWWAuthenticateURI = strings.TrimSuffix(o.AuthURL, "/v3")
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	k := &Keystone{o: o, client: o.HTTPClient, log: o.Logger, challenge: fmt.Sprintf("Keystone uri=%q", o.WWWAuthenticateURI)}
	if k.client == nil {
		k.client = &http.Client{Timeout: o.Timeout}
	}
	if k.log == nil {
		k.log = hclog.NewNullLogger()
	}
	if o.CacheTTL > 0 {
		k.cache = newTokenCache(o.CacheSize)
	}
	return k, nil
}

// Challenge implements Authenticator: `Keystone uri="<www_authenticate_uri>"`.
func (k *Keystone) Challenge() string { return k.challenge }

// Check obtains a service token, to report at start whether Keystone and
// the service credentials work.
func (k *Keystone) Check(ctx context.Context) error {
	_, err := k.serviceToken(ctx, "")
	return err
}

// Authenticate implements api.AuthFunc.
func (k *Keystone) Authenticate(r *http.Request) (api.Identity, error) {
	return k.Validate(r.Context(), r.Header.Get(TokenHeader))
}

// Validate returns the caller a token stands for.
func (k *Keystone) Validate(ctx context.Context, token string) (api.Identity, error) {
	if token == "" {
		return api.Identity{}, unauthenticated("no %s header", TokenHeader)
	}
	if !wellFormed(token) {
		return api.Identity{}, unauthenticated("malformed token (%d bytes)", len(token))
	}
	key := sha256.Sum256([]byte(token))
	now := k.o.Now()
	if k.cache != nil {
		if id, ok := k.cache.get(key, now); ok {
			return id, nil
		}
	}
	// Keyed by the token's hash, like the cache. The shared call must not
	// die with the first caller's request: the HTTP client's timeout
	// bounds it.
	v, err, _ := k.flight.Do(string(key[:]), func() (any, error) {
		id, expires, err := k.validate(context.WithoutCancel(ctx), token)
		return validation{id, expires}, err
	})
	if err != nil {
		return api.Identity{}, err
	}
	res := v.(validation)
	id, expires := res.id, res.expires
	id.Roles = slices.Clone(id.Roles)
	now = k.o.Now()
	if !now.Before(expires) {
		return api.Identity{}, unauthenticated("token expired at %s", expires.UTC().Format(time.RFC3339))
	}
	if k.cache != nil {
		until := now.Add(k.o.CacheTTL)
		if expires.Before(until) {
			until = expires
		}
		k.cache.put(key, id, until)
	}
	return id, nil
}

// validation is what one call to Keystone established.
type validation struct {
	id      api.Identity
	expires time.Time
}

// wellFormed accepts what Fernet and JWS tokens are made of (base64url
// and '.'), plus '+' and '/', up to MaxTokenLength bytes.
func wellFormed(t string) bool {
	if len(t) > MaxTokenLength {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '=', c == '.', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// tokenBody is the part of Keystone's token document used here.
type tokenBody struct {
	Token struct {
		ExpiresAt string `json:"expires_at"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
		Project *struct {
			ID string `json:"id"`
		} `json:"project"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
	} `json:"token"`
}

func (b *tokenBody) expires() (time.Time, error) {
	return parseExpiry(b.Token.ExpiresAt)
}

// parseExpiry reads a Keystone expires_at: "2026-11-26T15:35:52.000000Z"
// as a rule, but without a zone (UTC) when an application credential
// capped the token's expiry (Keystone writes the credential's naive
// datetime.isoformat() then).
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("keystone: token document with an invalid expires_at %q", s)
	}
	return t, nil
}

// validate asks Keystone about token: GET /auth/tokens with the service
// token; on a 401 (the service token was revoked or expired early) it
// obtains a new service token and asks once more.
func (k *Keystone) validate(ctx context.Context, token string) (api.Identity, time.Time, error) {
	stale := ""
	for attempt := 0; ; attempt++ {
		svc, err := k.serviceToken(ctx, stale)
		if err != nil {
			return api.Identity{}, time.Time{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.o.AuthURL+"/auth/tokens?nocatalog", nil)
		if err != nil {
			return api.Identity{}, time.Time{}, fmt.Errorf("keystone: %w", err)
		}
		req.Header.Set("X-Auth-Token", svc)
		req.Header.Set("X-Subject-Token", token)
		req.Header.Set("Accept", "application/json")
		resp, err := k.client.Do(req)
		if err != nil {
			return api.Identity{}, time.Time{}, fmt.Errorf("keystone: validating a token: %w", err)
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxKeystoneBody))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			if rerr != nil {
				return api.Identity{}, time.Time{}, fmt.Errorf("keystone: reading a token document: %w", rerr)
			}
			var b tokenBody
			if err := json.Unmarshal(body, &b); err != nil {
				return api.Identity{}, time.Time{}, fmt.Errorf("keystone: decoding a token document: %w", err)
			}
			exp, err := b.expires()
			if err != nil {
				return api.Identity{}, time.Time{}, err
			}
			if b.Token.User.ID == "" {
				return api.Identity{}, time.Time{}, errors.New("keystone: token document without user.id")
			}
			project := ""
			if b.Token.Project != nil {
				project = b.Token.Project.ID
			}
			roles := make([]string, 0, len(b.Token.Roles))
			for _, r := range b.Token.Roles {
				roles = append(roles, r.Name)
			}
			return identity(b.Token.User.ID, project, roles), exp, nil
		case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusBadRequest:
			// Keystone answers 404 for an unknown, revoked or expired
			// token (400 for one it cannot parse).
			return api.Identity{}, time.Time{}, unauthenticated("keystone does not know the token (HTTP %d)", resp.StatusCode)
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			stale = svc
			continue
		case resp.StatusCode == http.StatusUnauthorized:
			// Refused with a service token just obtained: the subject
			// token is what Keystone rejects.
			return api.Identity{}, time.Time{}, unauthenticated("keystone refused the token (HTTP 401)")
		case resp.StatusCode == http.StatusForbidden:
			err := fmt.Errorf("keystone: the service user %q may not validate tokens (HTTP 403); give it the service or admin role on project %q",
				k.o.Username, k.o.ProjectName)
			k.log.Error("keystone refused to validate a token", "error", err)
			return api.Identity{}, time.Time{}, err
		default:
			return api.Identity{}, time.Time{}, fmt.Errorf("keystone: validating a token: unexpected HTTP %d", resp.StatusCode)
		}
	}
}

// serviceToken returns a service token, obtaining a new one when there is
// none, when it is near its expiry, or when it is stale (the token
// Keystone just refused; a concurrent caller may have replaced it
// already).
func (k *Keystone) serviceToken(ctx context.Context, stale string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.svcToken != "" && k.svcToken != stale && k.o.Now().Before(k.svcRefresh) {
		return k.svcToken, nil
	}
	k.svcToken = ""
	if k.svcErr != nil && k.o.Now().Before(k.svcErrUntil) {
		return "", k.svcErr
	}
	tok, exp, err := k.obtainServiceToken(ctx)
	if err != nil {
		k.log.Error("cannot obtain the keystone service token; requests get 503", "error", err)
		if ctx.Err() == nil { // not the caller giving up
			k.svcErr, k.svcErrUntil = err, k.o.Now().Add(serviceRetry)
		}
		return "", err
	}
	k.svcErr = nil
	now := k.o.Now()
	margin := exp.Sub(now) / 2
	if margin > time.Minute {
		margin = time.Minute
	}
	k.svcToken, k.svcRefresh = tok, exp.Add(-margin)
	return tok, nil
}

// obtainServiceToken authenticates the service user by password, scoped
// to its project: POST /auth/tokens.
func (k *Keystone) obtainServiceToken(ctx context.Context) (string, time.Time, error) {
	var body struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct {
						Name     string `json:"name"`
						Domain   named  `json:"domain"`
						Password string `json:"password"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project struct {
					Name   string `json:"name"`
					Domain named  `json:"domain"`
				} `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	a := &body.Auth
	a.Identity.Methods = []string{"password"}
	a.Identity.Password.User.Name = k.o.Username
	a.Identity.Password.User.Domain.Name = k.o.UserDomainName
	a.Identity.Password.User.Password = k.o.Password
	a.Scope.Project.Name = k.o.ProjectName
	a.Scope.Project.Domain.Name = k.o.ProjectDomainName
	js, err := json.Marshal(&body)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("keystone: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.o.AuthURL+"/auth/tokens?nocatalog", bytes.NewReader(js))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("keystone: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("keystone: obtaining the service token: %w", err)
	}
	defer resp.Body.Close()
	rb, rerr := io.ReadAll(io.LimitReader(resp.Body, maxKeystoneBody))
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return "", time.Time{}, fmt.Errorf("keystone refused the service credentials (user %q in domain %q, project %q in domain %q): HTTP %d",
			k.o.Username, k.o.UserDomainName, k.o.ProjectName, k.o.ProjectDomainName, resp.StatusCode)
	default:
		return "", time.Time{}, fmt.Errorf("keystone: obtaining the service token: unexpected HTTP %d", resp.StatusCode)
	}
	if rerr != nil {
		return "", time.Time{}, fmt.Errorf("keystone: reading the service token: %w", rerr)
	}
	tok := resp.Header.Get("X-Subject-Token")
	if tok == "" {
		return "", time.Time{}, errors.New("keystone: no X-Subject-Token in the answer to the service authentication")
	}
	var b tokenBody
	if err := json.Unmarshal(rb, &b); err != nil {
		return "", time.Time{}, fmt.Errorf("keystone: decoding the service token document: %w", err)
	}
	exp, err := b.expires()
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

type named struct {
	Name string `json:"name"`
}
