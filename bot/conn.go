package bot

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// How the bot keeps its Socket Mode connection. slack-go reconnects by
// itself when a connection drops (at once) or when Slack asks it to; it
// gives up and returns only on a refused token or a canceled context, and
// while apps.connections.open keeps failing it backs off exponentially up
// to 5 minutes. An on-call bot must not stay away that long after Slack is
// back, nor give up: the bot runs the client in a loop that restarts it
// after reconnectDelay (doubling up to maxReconnectDelay while the token is
// refused), and cuts slack-go's backoff short: when it would wait more than
// maxConnectBackoff, the client is restarted after maxConnectBackoff
// instead, so that while Slack is away the bot tries at least every 5 s
// and is back within 5 s of Slack. A rate limit's Retry-After is Slack's
// to set and is kept.
const (
	reconnectDelay    = time.Second
	maxReconnectDelay = 30 * time.Second
	maxConnectBackoff = 5 * time.Second
)

// apiTimeout bounds every Web API call of the bot, apps.connections.open
// included: a Slack that accepts the connection and never answers must not
// hold a reconnect (or a click's work) forever. slack-go's default client
// has no timeout.
const apiTimeout = 30 * time.Second

// conn is the state of the connection loop.
type conn struct {
	mu        sync.Mutex
	cancel    context.CancelFunc // ends the running client, to restart it
	connected bool               // a connection opened since the last restart
	capped    bool               // the restart cuts slack-go's backoff short
	seen      envelopeSet
}

// runSocket runs the Socket Mode client until ctx ends, restarting it
// whenever it returns.
func (b *Bot) runSocket(ctx context.Context) {
	delay := reconnectDelay
	for {
		runCtx, cancel := context.WithCancel(ctx)
		b.conn.mu.Lock()
		b.conn.cancel, b.conn.connected, b.conn.capped = cancel, false, false
		b.conn.mu.Unlock()
		err := b.sm.RunContext(runCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		b.conn.mu.Lock()
		connected, capped := b.conn.connected, b.conn.capped
		b.conn.mu.Unlock()
		wait := delay
		switch {
		case capped:
			wait = maxConnectBackoff // in place of slack-go's longer wait
			b.log.Warn().Dur("retry_in", wait).Msg("slack socket mode cannot connect; retrying")
		default:
			if connected {
				delay, wait = reconnectDelay, reconnectDelay // it worked for a while: start over
			}
			delay = min(2*delay, maxReconnectDelay)
			b.log.Warn().Err(err).Dur("retry_in", wait).Msg("slack socket mode stopped; reconnecting")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// connected records that a connection is open.
func (b *Bot) connected() {
	b.conn.mu.Lock()
	b.conn.connected = true
	b.conn.mu.Unlock()
}

// connectionError cuts slack-go's reconnect backoff short: past
// maxConnectBackoff the client is restarted by runSocket instead, whose
// wait is bounded. A rate limit's wait is Slack's to set and is kept.
func (b *Bot) connectionError(ev *slack.ConnectionErrorEvent) {
	var rl *slack.RateLimitedError
	if ev == nil || ev.Backoff <= maxConnectBackoff || errors.As(ev.ErrorObj, &rl) {
		return
	}
	b.conn.mu.Lock()
	cancel := b.conn.cancel
	b.conn.capped = true
	b.conn.mu.Unlock()
	b.log.Warn().Err(ev.ErrorObj).Int("attempt", ev.Attempt).Msg("slack socket mode cannot connect")
	if cancel != nil {
		cancel()
	}
}

// duplicate reports whether the envelope was seen before: Slack delivers
// an envelope again, with the same envelope_id, when it got no ack (the
// connection died between our ack and Slack), and acting twice on a click
// would escalate twice. The envelope is acked again, so Slack stops.
func (b *Bot) duplicate(evt socketmode.Event) bool {
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return false
	}
	if !b.conn.seen.add(evt.Request.EnvelopeID) {
		return false
	}
	b.log.Info().Str("envelope_id", evt.Request.EnvelopeID).Int("retry_attempt", evt.Request.RetryAttempt).
		Msg("slack delivered an envelope again; acked, not acted on twice")
	b.ack(evt)
	return true
}

// envelopeSet remembers the last envelopeMemory envelope ids. Slack
// re-delivers within minutes, so a few thousand cover any burst.
type envelopeSet struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

const envelopeMemory = 4096

// add records id and reports whether it was already there.
func (s *envelopeSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return true
	}
	if s.ids == nil {
		s.ids = make(map[string]struct{}, envelopeMemory)
		s.ring = make([]string, envelopeMemory)
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % envelopeMemory
	s.ids[id] = struct{}{}
	return false
}
