package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/glance-go/glance/core/api"
	"github.com/glance-go/glance/core/config"
)

// StaticToken is one token of mode "tokens". Value is a secret.
type StaticToken struct {
	Value     string
	UserID    string
	ProjectID string
	Roles     []string
}

// Tokens authenticates callers by static tokens.
type Tokens struct {
	// byHash maps sha256(token) to the token; the presented token is
	// hashed, looked up, then compared in constant time, so neither the
	// map lookup nor the comparison leaks a token's bytes through timing.
	byHash map[[sha256.Size]byte]tokenEntry
}

type tokenEntry struct {
	value []byte
	id    api.Identity
}

// NewTokens checks the tokens (non-empty, at least config.MinTokenLength
// bytes, distinct) and returns their Authenticator.
func NewTokens(tokens []StaticToken) (*Tokens, error) {
	if len(tokens) == 0 {
		return nil, errors.New("auth: mode tokens needs at least one token")
	}
	t := &Tokens{byHash: make(map[[sha256.Size]byte]tokenEntry, len(tokens))}
	for i, tok := range tokens {
		if len(tok.Value) < config.MinTokenLength {
			return nil, fmt.Errorf("auth: token %d (user %q) is shorter than %d characters", i+1, tok.UserID, config.MinTokenLength)
		}
		if tok.UserID == "" {
			return nil, fmt.Errorf("auth: token %d has no user", i+1)
		}
		h := sha256.Sum256([]byte(tok.Value))
		if prev, dup := t.byHash[h]; dup {
			return nil, fmt.Errorf("auth: token %d (user %q) has the same value as the token of user %q", i+1, tok.UserID, prev.id.UserID)
		}
		t.byHash[h] = tokenEntry{value: []byte(tok.Value), id: identity(tok.UserID, tok.ProjectID, tok.Roles)}
	}
	return t, nil
}

// Authenticate implements api.AuthFunc.
func (t *Tokens) Authenticate(r *http.Request) (api.Identity, error) {
	tok := r.Header.Get(TokenHeader)
	if tok == "" {
		return api.Identity{}, unauthenticated("no %s header", TokenHeader)
	}
	h := sha256.Sum256([]byte(tok))
	e, ok := t.byHash[h]
	if !ok || subtle.ConstantTimeCompare(e.value, []byte(tok)) != 1 {
		return api.Identity{}, unauthenticated("unknown token")
	}
	id := e.id
	id.Roles = append([]string(nil), e.id.Roles...)
	return id, nil
}

// Challenge implements Authenticator: static tokens have no
// WWW-Authenticate challenge.
func (t *Tokens) Challenge() string { return "" }
