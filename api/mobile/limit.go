package mobile

import (
	"sync"
	"time"
)

// Limit bounds failed attempts: at most PerClient failures from one
// client address and Total from everyone within Window; past either,
// pairing answers 429 until the window has moved on.
type Limit struct {
	PerClient int
	Total     int
	Window    time.Duration
}

// DefaultLimit lets a person mistype a code a few times, and keeps a
// guesser far from the 2^40 code space: at most 14,400 guesses a day for
// the whole server, each finding one of n live codes with a chance of
// n/2^40 (n = 100: one in 10^6 a day). A flood of failures blocks pairing
// for everyone for ten minutes at worst, never anything else.
var DefaultLimit = Limit{PerClient: 10, Total: 100, Window: 10 * time.Minute}

// Limiter counts failed attempts in a sliding window. It is per process:
// with several servers the bound is that many times larger, still far from
// what guessing needs. It is safe for concurrent use.
type Limiter struct {
	limit Limit
	now   func() time.Time

	mu       sync.Mutex
	clients  map[string][]time.Time // failures by client, oldest first
	failures []time.Time            // everyone's
}

// NewLimiter makes a limiter over the clock now.
func NewLimiter(l Limit, now func() time.Time) *Limiter {
	return &Limiter{limit: l, now: now, clients: map[string][]time.Time{}}
}

// Allow reports whether client may try now, and if not how long to wait.
func (l *Limiter) Allow(client string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.failures = l.recent(l.failures, now)
	mine := l.recent(l.clients[client], now)
	if len(mine) == 0 {
		delete(l.clients, client)
	} else {
		l.clients[client] = mine
	}
	var wait time.Duration
	if len(mine) >= l.limit.PerClient {
		wait = mine[len(mine)-l.limit.PerClient].Add(l.limit.Window).Sub(now)
	}
	if len(l.failures) >= l.limit.Total {
		wait = max(wait, l.failures[len(l.failures)-l.limit.Total].Add(l.limit.Window).Sub(now))
	}
	return wait <= 0, max(wait, time.Second)
}

// Fail counts a failed attempt of client.
func (l *Limiter) Fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.failures = append(l.failures, now)
	l.clients[client] = append(l.clients[client], now)
	if len(l.clients) > 10000 { // forget the quiet ones, so the map stays small
		for c, ts := range l.clients {
			if len(l.recent(ts, now)) == 0 {
				delete(l.clients, c)
			}
		}
	}
}

// recent is ts without the times that left the window.
func (l *Limiter) recent(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].Add(l.limit.Window).After(now) {
		i++
	}
	return ts[i:]
}
