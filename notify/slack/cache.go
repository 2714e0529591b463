package slack

import (
	"strings"
	"sync"
)

// userCacheSize bounds the email -> user id cache.
const userCacheSize = 4096

// userCache remembers the Slack user ids of emails found, evicting the
// oldest entry when full. Misses are not cached: a member may join later.
type userCache struct {
	mu    sync.Mutex
	size  int
	ids   map[string]string
	order []string // keys, oldest first
}

func newUserCache(size int) *userCache {
	return &userCache{size: size, ids: map[string]string{}}
}

func (c *userCache) get(email string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[strings.ToLower(email)]
	return id, ok
}

func (c *userCache) put(email, id string) {
	key := strings.ToLower(email)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ids[key]; !ok {
		if len(c.order) >= c.size {
			delete(c.ids, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.ids[key] = id
}

func (c *userCache) forget(email string) {
	key := strings.ToLower(email)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ids[key]; !ok {
		return
	}
	delete(c.ids, key)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}
