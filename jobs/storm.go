package jobs

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// Alert storms. A service that opens more than stormOpened incidents in
// stormWindow is in a storm: the jobs of its incidents go to QueueBulk,
// with its own workers, so a storm's tens of thousands of pages and timers
// never queue ahead of another service's first page; at most stormIngest
// of its alerts are written at once; and one person (or channel) gets its
// pages as bundles (bundleInterval). Below the threshold nothing changes:
// 100 incidents at once, 20 a second for minutes, or the burst of a
// sender retrying what a 10 s database outage refused (e2e's
// TestDatabaseOutage: about 400 in 10 s), each page their own message as
// soon as possible.
const (
	stormWindow = 10 * time.Second
	stormOpened = 1000
)

// SetStormThreshold sets how many incidents a service opens in 10 s before
// it is in a storm (stormOpened); tests lower it to make a storm small.
func (e *Engine) SetStormThreshold(n int) {
	e.storm.mu.Lock()
	defer e.storm.mu.Unlock()
	e.storm.threshold = n
}

// stormDetector counts, per service, the incidents opened in the current
// and the previous window (a sliding-window estimate). It is per process:
// with several processes each sees its share of a storm, which for a real
// storm is still far above the threshold.
type stormDetector struct {
	mu        sync.Mutex
	threshold int // 0: stormOpened
	services  map[string]*stormCount
}

type stormCount struct {
	start     time.Time // of the current window
	cur, prev int
	// until is when the storm ends unless the count is again above the
	// threshold: a storm whose rate wavers about the threshold does not
	// flip its pages between bundles and single messages.
	until time.Time
}

// opened counts one incident opened for service at now and reports whether
// the service is in a storm, and the priority of its jobs.
func (d *stormDetector) opened(service string, now time.Time) (bool, int) {
	return d.observe(service, now, 1)
}

// active reports whether service is in a storm at now, and the priority
// of its jobs.
func (d *stormDetector) active(service string, now time.Time) (bool, int) {
	return d.observe(service, now, 0)
}

// River job priorities (1 runs first) by how many incidents the service
// opened in the last stormWindow: a service's first pages go ahead of the
// backlog of one that opens many, in any queue, long before (and
// whether or not) that one counts as a storm.
func priority(recent float64) int {
	switch {
	case recent <= 20:
		return 1
	case recent <= 100:
		return 2
	case recent <= 500:
		return 3
	default:
		return 4
	}
}

func (d *stormDetector) observe(service string, now time.Time, add int) (storm bool, prio int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.services == nil {
		d.services = map[string]*stormCount{}
	}
	c := d.services[service]
	if c == nil {
		if add == 0 {
			return false, 1
		}
		if len(d.services) >= 10_000 {
			d.services = map[string]*stormCount{} // bounded: start over
		}
		c = &stormCount{start: now}
		d.services[service] = c
	}
	switch el := now.Sub(c.start); {
	case el >= 2*stormWindow:
		c.start, c.cur, c.prev = now, 0, 0
	case el >= stormWindow:
		c.start, c.prev, c.cur = c.start.Add(stormWindow), c.cur, 0
	}
	c.cur += add
	// The previous window counts for the part of it still inside the
	// sliding window.
	frac := 1 - float64(now.Sub(c.start))/float64(stormWindow)
	threshold := d.threshold
	if threshold <= 0 {
		threshold = stormOpened
	}
	recent := float64(c.cur) + frac*float64(c.prev)
	if recent > float64(threshold) {
		c.until = now.Add(stormWindow)
	}
	return now.Before(c.until), priority(recent)
}

// stormIngest is how many alerts of services in a storm are written at
// once; the others wait their turn before they take a database
// connection, so that a storm cannot hold every connection and another
// service's alert (and the pages of both) find one at once.
const stormIngest = 8

// stormTurn waits, for an alert of a service in a storm, until fewer than
// stormIngest of those are being written. The service is the one the
// last configuration snapshot routes the alert to: a guess for fairness
// only; the transaction routes it again on the current configuration.
func (e *Engine) stormTurn(ctx context.Context, integ store.Integration, ev oncall.AlertEvent) (release func(), err error) {
	e.config.mu.Lock()
	cfg := e.config.cur
	e.config.mu.Unlock()
	if cfg == nil {
		return func() {}, nil
	}
	service := integ.ServiceName
	if rt := cfg.route(integ.Name, integ.ServiceName, ev.Severity, ev.Summary, ev.Labels, ev.Annotations); rt.service != nil {
		service = rt.service.Name
	}
	if storm, _ := e.storm.active(service, e.clock.Now()); !storm {
		return func() {}, nil
	}
	select {
	case e.stormSlots <- struct{}{}:
		return func() { <-e.stormSlots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to ingest during a storm on %s: %w", service, ctx.Err())
	}
}

// Bundling on channels without a hard per-address rate limit (Slack), for
// the pages of incidents opened in a storm: a page goes out at once,
// alone, or with the other pages for the same address already waiting. Once a message carried stormBundle pages or
// more (a storm), the next goes out no sooner than bundleInterval after it
// and carries everything that piled up meanwhile, up to maxBundleOf.
var bundleInterval = map[string]time.Duration{notify.MethodSlack: 5 * time.Second, notify.MethodSlackChannel: 5 * time.Second}

const stormBundle = 10

// maxBundleOf is the most pages one message to method holds.
func maxBundleOf(method string) int {
	if bundleInterval[method] > 0 {
		return 5000 // a Slack bundle lists a few and counts the rest
	}
	return maxBundle
}

// bundleKey names an address for addressLocks without the address itself
// (job arguments are visible in River's tables and UI).
func bundleKey(method, address string) string {
	if bundleInterval[method] == 0 || address == "" {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(method + "\n" + address))
	return hex.EncodeToString(h.Sum(nil))
}

// addressLocks serializes, in this process, the sends to one address, and
// does so before a database connection is taken: during a storm the
// workers waiting for one person's bundle hold nothing the rest of the
// server needs. The wait is short: the holder takes the waiters' pages
// into its bundle, or finds the address cooling down and snoozes.
type addressLocks struct {
	mu    sync.Mutex
	locks map[string]*addressLock
	// cool holds, per key, the end of the address's storm interval: a page
	// for it snoozes till then without touching the database (the first to
	// wake takes the others into its bundle and deletes their jobs).
	cool map[string]time.Time
}

// coolUntil is the end of key's storm interval after now (zero: none).
func (l *addressLocks) coolUntil(key string, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.cool[key]; until.After(now) {
		return until
	}
	return time.Time{}
}

func (l *addressLocks) setCool(key string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cool == nil || len(l.cool) >= 10_000 {
		l.cool = map[string]time.Time{} // bounded: start over
	}
	l.cool[key] = until
}

type addressLock struct {
	ch   chan struct{}
	refs int
}

func (l *addressLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*addressLock{}
	}
	a := l.locks[key]
	if a == nil {
		a = &addressLock{ch: make(chan struct{}, 1)}
		l.locks[key] = a
	}
	a.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if a.refs--; a.refs == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
	select {
	case a.ch <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("wait for the address's other send: %w", ctx.Err())
	}
	return func() {
		<-a.ch
		release()
	}, nil
}
