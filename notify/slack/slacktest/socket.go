package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// maxAckSize is the largest Socket Mode message Slack accepts; larger acks are dropped.
const maxAckSize = 20 * 1024

type sockConn struct {
	id        int
	ws        *websocket.Conn
	wmu       sync.Mutex
	done      chan struct{}
	closeOnce sync.Once
	silent    atomic.Bool // no more pings (SilenceSockets)
}

func (c *sockConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// kill closes the connection abruptly: no close frame, as when a network path dies.
func (c *sockConn) kill() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// ConnInfo describes a Socket Mode connection, open or closed.
type ConnInfo struct {
	ID     int
	Origin string // the Origin header of the upgrade request
	Opened time.Time
	Closed time.Time // zero while open
	Pongs  int       // pongs received in answer to the fake's pings
	Acks   int       // acks received on this connection
}

var upgrader = websocket.Upgrader{
	// Slack's clients send Origin: https://api.slack.com; accept it (and anything else).
	CheckOrigin: func(*http.Request) bool { return true },
}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	ticket := r.URL.Query().Get("ticket")
	valid := s.tickets[ticket]
	delete(s.tickets, ticket)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &sockConn{ws: ws, done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.kill()
		return
	}
	s.connSeq++
	c.id = s.connSeq
	info := len(s.connLog)
	s.connLog = append(s.connLog, ConnInfo{ID: c.id, Origin: r.Header.Get("Origin"), Opened: time.Now()})
	s.handshaking++
	hello, _ := json.Marshal(obj{
		"type":            "hello",
		"num_connections": len(s.conns) + s.handshaking,
		"debug_info": obj{
			"host":                        fmt.Sprintf("applink-slacktest-%d", c.id),
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": obj{"app_id": AppID},
	})
	s.mu.Unlock()

	ws.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.connLog[info].Pongs++
		s.notifyLocked()
		s.mu.Unlock()
		return nil
	})
	err = c.write(hello)
	s.mu.Lock()
	s.handshaking--
	if err != nil || s.closed {
		s.mu.Unlock()
		s.dropConn(c, info)
		return
	}
	s.conns[c.id] = c
	s.connects++
	s.notifyLocked()
	s.wg.Add(1)
	s.mu.Unlock()
	s.kickDispatcher()
	go s.ping(c)

	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		if s.handleAck(c, info, data) {
			break // an ack lost with its connection (LoseNextAcks)
		}
	}
	s.dropConn(c, info)
}

func (s *Server) dropConn(c *sockConn, info int) {
	c.kill()
	s.mu.Lock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	if s.connLog[info].Closed.IsZero() {
		s.connLog[info].Closed = time.Now()
	}
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Server) ping(c *sockConn) {
	defer s.wg.Done()
	if s.cfg.pingInterval <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-s.quit:
			return
		case <-t.C:
			if c.silent.Load() {
				continue
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
				return
			}
		}
	}
}

func (s *Server) takeConnsLocked() []*sockConn {
	conns := make([]*sockConn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	clear(s.conns)
	return conns
}

// DropSockets closes every open Socket Mode connection abruptly (no close frame and no
// disconnect message), as when the network fails. Envelopes delivered on them and not
// acked are re-delivered after the ack timeout if their type is re-delivered.
func (s *Server) DropSockets() {
	s.mu.Lock()
	conns := s.takeConnsLocked()
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.kill()
	}
}

// SilenceSockets stops the pings on every open Socket Mode connection and
// leaves it open, as when the network path dies without either end seeing
// it (a half-open connection): the app notices only by the missing pings.
// Connections opened later are pinged as usual.
func (s *Server) SilenceSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.silent.Store(true)
	}
}

// SendDisconnect sends Slack's disconnect message (reason "warning",
// "refresh_requested", "link_disabled", ...) on every open connection; the client is
// expected to open a new one.
func (s *Server) SendDisconnect(reason string) {
	msg, _ := json.Marshal(obj{"type": "disconnect", "reason": reason,
		"debug_info": obj{"host": "applink-slacktest"}})
	s.mu.Lock()
	conns := make([]*sockConn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.write(msg)
	}
}

// Connections is the number of open Socket Mode connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ConnectCount is the number of Socket Mode connections ever opened (hello sent).
func (s *Server) ConnectCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Conns describes every Socket Mode connection ever opened, oldest first.
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.connLog)
}

// WaitConnected blocks until at least n Socket Mode connections are open.
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	if err := s.WaitUntil(ctx, func() bool { return s.Connections() >= n }); err != nil {
		return fmt.Errorf("slacktest: waiting for %d socket connections (have %d): %w", n, s.Connections(), err)
	}
	return nil
}

// ---- envelopes

const (
	envQueued = iota
	envDelivered
	envAcked
	envTimedOut
)

type envelope struct {
	id         string
	typ        string
	payload    json.RawMessage
	accepts    bool
	redeliver  bool
	attempt    int
	reason     string
	state      int
	created    time.Time
	deadline   time.Time
	deliveries []Delivery
	ack        *Ack
	extraAcks  int
	oversize   int
	lostAcks   int
	viewID     string // for view_submission: the submitted view
	channel    string // for slash commands: where it was typed
	user       string // for slash commands: who typed it
}

// Delivery is one attempt to deliver an envelope.
type Delivery struct {
	ConnID  int
	Attempt int // retry_attempt sent: 0 for the first delivery
	Time    time.Time
	Failed  bool // the write failed; the envelope went back to the queue
}

// Ack is an envelope's acknowledgement as the app sent it.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack had none
	ConnID     int
	Time       time.Time
	Attempt    int           // retry_attempt of the delivery it answered
	Latency    time.Duration // since that delivery was written
}

// Envelope is the state of an envelope the fake pushed.
type Envelope struct {
	ID                     string
	Type                   string
	Payload                json.RawMessage
	AcceptsResponsePayload bool
	Created                time.Time
	Deliveries             []Delivery
	Ack                    *Ack // the first ack; nil until acked
	ExtraAcks              int  // acks after the first
	OversizeAcks           int  // acks of 20 KB or more, which Slack drops
	LostAcks               int  // acks lost with their connection (LoseNextAcks)
	TimedOut               bool // no ack came and it will not be re-delivered
	Queued                 bool // waiting for a connection
}

func (e *envelope) snapshot() Envelope {
	out := Envelope{
		ID: e.id, Type: e.typ, Payload: e.payload, AcceptsResponsePayload: e.accepts,
		Created: e.created, Deliveries: slices.Clone(e.deliveries), ExtraAcks: e.extraAcks,
		OversizeAcks: e.oversize, LostAcks: e.lostAcks, TimedOut: e.state == envTimedOut, Queued: e.state == envQueued,
	}
	if e.ack != nil {
		a := *e.ack
		out.Ack = &a
	}
	return out
}

// wire is the envelope as written on the socket.
func (e *envelope) wire() []byte {
	w := struct {
		EnvelopeID             string          `json:"envelope_id"`
		Payload                json.RawMessage `json:"payload"`
		Type                   string          `json:"type"`
		AcceptsResponsePayload bool            `json:"accepts_response_payload"`
		RetryAttempt           *int            `json:"retry_attempt,omitempty"`
		RetryReason            *string         `json:"retry_reason,omitempty"`
	}{EnvelopeID: e.id, Payload: e.payload, Type: e.typ, AcceptsResponsePayload: e.accepts}
	// Events API envelopes always carry the retry fields; others only when re-sent.
	if e.typ == TypeEventsAPI || e.attempt > 0 {
		w.RetryAttempt, w.RetryReason = &e.attempt, &e.reason
	}
	b, _ := json.Marshal(w)
	return b
}

// SendEnvelope pushes a raw envelope of any type and returns its envelope_id. The
// Send* helpers build Slack's payloads for it.
func (s *Server) SendEnvelope(typ string, payload any, acceptsResponsePayload bool) string {
	raw, err := json.Marshal(payload)
	if err != nil {
		s.t.Errorf("slacktest: marshal %s payload: %v", typ, err)
		return ""
	}
	s.mu.Lock()
	e := s.enqueueLocked(typ, raw, acceptsResponsePayload)
	s.mu.Unlock()
	s.kickDispatcher()
	return e.id
}

func (s *Server) enqueueLocked(typ string, payload json.RawMessage, accepts bool) *envelope {
	e := &envelope{
		id: newUUID(), typ: typ, payload: payload, accepts: accepts,
		redeliver: s.cfg.redeliver[typ], state: envQueued, created: time.Now(),
	}
	s.envs[e.id] = e
	s.envOrder = append(s.envOrder, e.id)
	s.queue = append(s.queue, e)
	s.notifyLocked()
	return e
}

func (s *Server) kickDispatcher() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

type pendingWrite struct {
	conn *sockConn
	env  *envelope
	n    int // index of the delivery
	data []byte
}

// dispatch delivers queued envelopes to open connections (round robin) and re-queues
// the ones whose ack did not come in time.
func (s *Server) dispatch() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		writes, next := s.plan()
		failed := false
		for _, w := range writes {
			if err := w.conn.write(w.data); err != nil {
				s.writeFailed(w)
				failed = true
			}
		}
		if failed {
			continue
		}
		var tc <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			tc = timer.C
		}
		select {
		case <-s.quit:
			return
		case <-s.kick:
		case <-tc:
		}
	}
}

func (s *Server) plan() ([]pendingWrite, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, time.Time{}
	}
	now := time.Now()
	if s.cfg.ackTimeout > 0 {
		for _, id := range s.envOrder {
			e := s.envs[id]
			if e.state != envDelivered || e.deadline.After(now) {
				continue
			}
			if e.redeliver && e.attempt < s.cfg.maxRetries {
				e.attempt++
				e.reason = "timeout"
				e.state = envQueued
				s.queue = append(s.queue, e)
			} else {
				e.state = envTimedOut
			}
			s.notifyLocked()
		}
	}
	var writes []pendingWrite
	if len(s.conns) > 0 {
		ids := make([]int, 0, len(s.conns))
		for id := range s.conns {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, e := range s.queue {
			c := s.conns[ids[s.rr%len(ids)]]
			s.rr++
			e.state = envDelivered
			e.deadline = now.Add(s.cfg.ackTimeout)
			e.deliveries = append(e.deliveries, Delivery{ConnID: c.id, Attempt: e.attempt, Time: now})
			writes = append(writes, pendingWrite{conn: c, env: e, n: len(e.deliveries) - 1, data: e.wire()})
		}
		s.queue = s.queue[:0]
		if len(writes) > 0 {
			s.notifyLocked()
		}
	}
	var next time.Time
	if s.cfg.ackTimeout > 0 {
		for _, id := range s.envOrder {
			e := s.envs[id]
			if e.state == envDelivered && (next.IsZero() || e.deadline.Before(next)) {
				next = e.deadline
			}
		}
	}
	return writes, next
}

func (s *Server) writeFailed(w pendingWrite) {
	w.conn.kill()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[w.conn.id] == w.conn {
		delete(s.conns, w.conn.id)
	}
	e := w.env
	e.deliveries[w.n].Failed = true
	if e.state == envDelivered && w.n == len(e.deliveries)-1 {
		e.state = envQueued
		s.queue = append([]*envelope{e}, s.queue...)
	}
	s.notifyLocked()
}

// handleAck records an ack; it reports true when the ack was lost with its
// connection (LoseNextAcks), which the caller then drops.
func (s *Server) handleAck(c *sockConn, info int, data []byte) (lost bool) {
	var msg struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(data, &msg); err != nil || msg.EnvelopeID == "" {
		return false
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.notifyLocked()
	s.connLog[info].Acks++
	e := s.envs[msg.EnvelopeID]
	if len(data) >= maxAckSize {
		if e != nil {
			e.oversize++
		}
		return false
	}
	if e != nil && e.ack == nil && s.loseAcks > 0 {
		// Slack never saw this ack: the envelope goes out again, with the
		// same envelope_id, on the next connection.
		s.loseAcks--
		e.lostAcks++
		e.attempt++
		e.reason = "timeout"
		e.state = envQueued
		s.queue = append(s.queue, e)
		if s.conns[c.id] == c {
			delete(s.conns, c.id)
		}
		return true
	}
	payload := msg.Payload
	if string(payload) == "null" {
		payload = nil
	}
	ack := Ack{EnvelopeID: msg.EnvelopeID, Payload: payload, ConnID: c.id, Time: now}
	if e == nil {
		s.strayAcks = append(s.strayAcks, ack)
		return false
	}
	if e.ack != nil {
		e.extraAcks++
		return false
	}
	for i := len(e.deliveries) - 1; i >= 0; i-- {
		if d := e.deliveries[i]; !d.Failed && !d.Time.After(now) {
			ack.Attempt, ack.Latency = d.Attempt, now.Sub(d.Time)
			break
		}
	}
	e.ack = &ack
	e.state = envAcked
	if e.viewID != "" {
		if v := s.views[e.viewID]; v != nil {
			s.applyViewResponseLocked(v, payload)
		}
	}
	if e.typ == TypeSlashCommands && payload != nil {
		s.showCommandReplyLocked(e, payload)
	}
	return false
}

// LoseNextAcks makes the next n first acks of envelopes vanish with the
// connection that carried them, as when the network dies just after the app
// wrote its ack: the fake drops that connection (no close frame) and
// delivers the envelope again, with the same envelope_id and the next
// retry_attempt (retry_reason "timeout"), on the next connection the app
// opens, whatever the envelope's type. An app must then ack it again
// without acting twice.
func (s *Server) LoseNextAcks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseAcks += n
}

// showCommandReplyLocked shows a slash command's ack payload the way Slack does: to the
// user alone (an ephemeral message) unless response_type is "in_channel".
func (s *Server) showCommandReplyLocked(e *envelope, payload json.RawMessage) {
	var reply struct {
		ResponseType string          `json:"response_type"`
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
		Attachments  json.RawMessage `json:"attachments"`
	}
	if json.Unmarshal(payload, &reply) != nil || (reply.Text == "" && reply.Blocks == nil && reply.Attachments == nil) {
		return
	}
	now := time.Now()
	if reply.ResponseType == "in_channel" {
		s.addMessageLocked(&message{channel: e.channel,
			ts: s.nextTSLocked(), text: reply.Text, blocks: reply.Blocks, attachments: reply.Attachments,
			posted: now, updated: now})
		return
	}
	s.ephemerals[e.channel] = append(s.ephemerals[e.channel], Ephemeral{Channel: e.channel, User: e.user,
		MessageTS: s.nextTSLocked(), Text: reply.Text, Blocks: reply.Blocks, Attachments: reply.Attachments,
		Posted: now})
}

// Envelope returns the state of a pushed envelope.
func (s *Server) Envelope(id string) (Envelope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.envs[id]
	if !ok {
		return Envelope{}, false
	}
	return e.snapshot(), true
}

// Envelopes returns every pushed envelope, oldest first.
func (s *Server) Envelopes() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Envelope, 0, len(s.envOrder))
	for _, id := range s.envOrder {
		out = append(out, s.envs[id].snapshot())
	}
	return out
}

// WaitForEnvelope blocks until the envelope's state satisfies pred.
func (s *Server) WaitForEnvelope(ctx context.Context, id string, pred func(Envelope) bool) (Envelope, error) {
	var got Envelope
	err := s.WaitUntil(ctx, func() bool {
		e, ok := s.Envelope(id)
		got = e
		return ok && pred(e)
	})
	if err != nil {
		return got, fmt.Errorf("slacktest: envelope %s (%d deliveries, acked %t): %w", id, len(got.Deliveries), got.Ack != nil, err)
	}
	return got, nil
}

// WaitForAck blocks until the envelope is acked and returns the ack.
func (s *Server) WaitForAck(ctx context.Context, id string) (Ack, error) {
	e, err := s.WaitForEnvelope(ctx, id, func(e Envelope) bool { return e.Ack != nil })
	if err != nil {
		return Ack{}, err
	}
	return *e.Ack, nil
}

// AckLatency is the time from the delivery an ack answered to the ack; false until the
// envelope is acked.
func (s *Server) AckLatency(id string) (time.Duration, bool) {
	e, ok := s.Envelope(id)
	if !ok || e.Ack == nil {
		return 0, false
	}
	return e.Ack.Latency, true
}
