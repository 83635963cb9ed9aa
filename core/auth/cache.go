package auth

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/glance-go/glance/core/api"
)

// tokenCache holds validated tokens, keyed by the SHA-256 of the token so
// that the token itself is not kept, until their own expiry. It holds at
// most size entries, evicting the least recently used.
type tokenCache struct {
	mu    sync.Mutex
	size  int
	ll    *list.List // front: most recently used; values *cacheEntry
	items map[[sha256.Size]byte]*list.Element
}

type cacheEntry struct {
	key     [sha256.Size]byte
	id      api.Identity
	expires time.Time
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{size: size, ll: list.New(), items: make(map[[sha256.Size]byte]*list.Element)}
}

// get returns the identity cached for key if it has not expired at now.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (api.Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return api.Identity{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.items, key)
		return api.Identity{}, false
	}
	c.ll.MoveToFront(el)
	id := e.id
	id.Roles = append([]string(nil), e.id.Roles...)
	return id, true
}

// put caches id under key until expires, evicting the least recently used
// entry when the cache is full.
func (c *tokenCache) put(key [sha256.Size]byte, id api.Identity, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		e.id, e.expires = id, expires
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, id: id, expires: expires})
	for c.ll.Len() > c.size {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).key)
	}
}

// len is the number of entries, expired ones included.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
