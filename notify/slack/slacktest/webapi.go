package slacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// obj is a JSON object answered by the fake.
type obj = map[string]any

// result is what a method handler answers.
type result struct {
	body       obj    // merged into {"ok":true}
	err        string // answered as {"ok":false,"error":err}
	status     int    // 0 means 200
	retryAfter time.Duration
}

func fail(code string) result { return result{err: code} }

func success(body obj) result { return result{body: body} }

// tokenKind says which token a method wants.
type tokenKind int

const (
	botToken tokenKind = iota
	appToken
)

type methodSpec struct {
	token tokenKind
	fn    func(*Server, *Call) result
}

var methods = map[string]methodSpec{
	"auth.test":               {botToken, (*Server).authTest},
	"apps.connections.open":   {appToken, (*Server).appsConnectionsOpen},
	"chat.postMessage":        {botToken, (*Server).chatPostMessage},
	"chat.update":             {botToken, (*Server).chatUpdate},
	"chat.delete":             {botToken, (*Server).chatDelete},
	"chat.postEphemeral":      {botToken, (*Server).chatPostEphemeral},
	"chat.getPermalink":       {botToken, (*Server).chatGetPermalink},
	"conversations.open":      {botToken, (*Server).conversationsOpen},
	"conversations.history":   {botToken, (*Server).conversationsHistory},
	"users.info":              {botToken, (*Server).usersInfo},
	"users.lookupByEmail":     {botToken, (*Server).usersLookupByEmail},
	"views.open":              {botToken, (*Server).viewsOpen},
	"views.push":              {botToken, (*Server).viewsPush},
	"views.update":            {botToken, (*Server).viewsUpdate},
	"views.publish":           {botToken, (*Server).viewsPublish},
	"usergroups.list":         {botToken, (*Server).usergroupsList},
	"usergroups.create":       {botToken, (*Server).usergroupsCreate},
	"usergroups.users.update": {botToken, (*Server).usergroupsUsersUpdate},
	"usergroups.users.list":   {botToken, (*Server).usergroupsUsersList},
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	call, res := parseCall(r, method)

	s.mu.Lock()
	if res.err == "" {
		res = s.handleLocked(method, &call)
	}
	status := res.status
	if status == 0 {
		status = http.StatusOK
	}
	var body []byte
	switch {
	case status == http.StatusTooManyRequests:
		body = []byte(`{"ok":false,"error":"ratelimited"}`)
	case status != http.StatusOK:
		body = []byte(http.StatusText(status) + "\n")
	case res.err != "":
		body, _ = json.Marshal(obj{"ok": false, "error": res.err})
	default:
		out := obj{"ok": true}
		for k, v := range res.body {
			out[k] = v
		}
		body, _ = json.Marshal(out)
	}
	call.Status, call.Error, call.Response = status, res.err, body
	s.calls = append(s.calls, call)
	lose := status == http.StatusOK && res.err == "" && s.lostAnswers[method] > 0
	if lose {
		s.lostAnswers[method]--
	}
	s.notifyLocked()
	s.mu.Unlock()

	if lose {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}

	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(res.retryAfter.Seconds()))))
	}
	if status == http.StatusOK || status == http.StatusTooManyRequests {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// parseCall reads a request the way Slack does: a form (body or query) with the token
// in the "token" field or the Authorization header, or a JSON body with the token in the
// Authorization header only.
func parseCall(r *http.Request, method string) (Call, result) {
	call := Call{Method: method, Time: time.Now(), HTTPMethod: r.Method, Params: url.Values{}}
	call.ContentType, _, _ = mime.ParseMediaType(r.Header.Get("Content-Type"))
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		call.Token = auth
	}
	if call.ContentType == "application/json" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return call, fail("invalid_json")
		}
		call.JSON = body
		for k, v := range r.URL.Query() {
			call.Params[k] = v
		}
		if len(bytes.TrimSpace(body)) > 0 {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(body, &fields); err != nil {
				return call, fail("invalid_json")
			}
			for k, v := range fields {
				var str string
				if json.Unmarshal(v, &str) == nil {
					call.Params.Set(k, str)
				} else {
					call.Params.Set(k, string(v))
				}
			}
		}
		return call, result{}
	}
	if err := r.ParseForm(); err != nil {
		return call, fail("invalid_form_data")
	}
	for k, v := range r.Form {
		if k == "token" {
			if call.Token == "" {
				call.Token = v[0]
			}
			continue
		}
		call.Params[k] = v
	}
	return call, result{}
}

func (s *Server) handleLocked(method string, call *Call) result {
	if f := s.takeFaultLocked(method, call.Params.Get("channel")); f != nil {
		if f.slackErr != "" {
			return fail(f.slackErr)
		}
		return result{status: f.status, retryAfter: f.retryAfter}
	}
	spec, ok := methods[method]
	if !ok {
		return fail("unknown_method")
	}
	want, other := s.cfg.botToken, s.cfg.appToken
	if spec.token == appToken {
		want, other = other, want
	}
	switch call.Token {
	case want:
	case "":
		return fail("not_authed")
	case other:
		return fail("not_allowed_token_type")
	default:
		return fail("invalid_auth")
	}
	return spec.fn(s, call)
}

// ---- auth and connections

func (s *Server) authTest(*Call) result {
	return success(obj{
		"url":                   "https://" + TeamDomain + ".slack.com/",
		"team":                  TeamName,
		"user":                  BotName,
		"team_id":               TeamID,
		"user_id":               BotUserID,
		"bot_id":                BotID,
		"is_enterprise_install": false,
	})
}

func (s *Server) appsConnectionsOpen(*Call) result {
	ticket := newUUID()
	s.tickets[ticket] = true
	u := "ws://" + s.hs.Listener.Addr().String() + "/link/?ticket=" + ticket + "&app_id=" + AppID
	return success(obj{"url": u})
}

// ---- users

type user struct {
	id, email, name, tz string
	team                string // "" for the fake's workspace (TeamID)
}

// teamID is the workspace the user belongs to.
func (u *user) teamID() string {
	if u.team == "" {
		return TeamID
	}
	return u.team
}

// AddUser registers a workspace member for users.info, users.lookupByEmail,
// conversations.open and the payloads the fake pushes. name is the display name; tz is
// an IANA zone such as "Europe/Berlin" ("" means UTC).
func (s *Server) AddUser(id, email, name, tz string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		s.userOrder = append(s.userOrder, id)
	}
	s.users[id] = &user{id: id, email: email, name: name, tz: tz}
}

// AddExternalUser registers a user of another workspace (teamID), as Slack
// Connect shows one in a shared channel: users.info answers for them, with
// their email and their own team_id; users.lookupByEmail does not find
// them; the payloads they send carry their team.
func (s *Server) AddExternalUser(id, email, name, teamID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		s.userOrder = append(s.userOrder, id)
	}
	s.users[id] = &user{id: id, email: email, name: name, team: teamID}
}

func (u *user) handle() string {
	if local, _, ok := strings.Cut(u.email, "@"); ok && local != "" {
		return local
	}
	return strings.ToLower(strings.ReplaceAll(u.name, " ", "."))
}

func (u *user) wire() obj {
	tz := u.tz
	if tz == "" {
		tz = "UTC"
	}
	label, offset := "UTC", 0
	if loc, err := time.LoadLocation(tz); err == nil {
		label, offset = time.Now().In(loc).Zone()
	}
	profile := obj{
		"real_name":               u.name,
		"real_name_normalized":    u.name,
		"display_name":            u.name,
		"display_name_normalized": u.name,
		"email":                   u.email,
		"team":                    u.teamID(),
		"image_24":                "https://avatars.slack-edge.com/" + u.id + "_24.png",
		"image_48":                "https://avatars.slack-edge.com/" + u.id + "_48.png",
		"image_72":                "https://avatars.slack-edge.com/" + u.id + "_72.png",
	}
	return obj{
		"id":                  u.id,
		"team_id":             u.teamID(),
		"name":                u.handle(),
		"deleted":             false,
		"color":               "9f69e7",
		"real_name":           u.name,
		"tz":                  tz,
		"tz_label":            label,
		"tz_offset":           offset,
		"profile":             profile,
		"is_admin":            false,
		"is_owner":            false,
		"is_primary_owner":    false,
		"is_restricted":       false,
		"is_ultra_restricted": false,
		"is_bot":              false,
		"is_app_user":         false,
		"updated":             1700000000,
		"is_email_confirmed":  true,
		"locale":              "en-US",
	}
}

func (s *Server) usersInfo(c *Call) result {
	u, ok := s.users[c.Param("user")]
	if !ok {
		return fail("user_not_found")
	}
	return success(obj{"user": u.wire()})
}

func (s *Server) usersLookupByEmail(c *Call) result {
	email := strings.ToLower(c.Param("email"))
	for _, id := range s.userOrder {
		if u := s.users[id]; strings.ToLower(u.email) == email && email != "" && u.team == "" {
			return success(obj{"user": u.wire()})
		}
	}
	return fail("users_not_found")
}

// dmChannel is the id of the app's direct-message channel with a user.
func dmChannel(userID string) string { return "D" + userID }

// conversationsHistory lists a conversation's top-level messages newer than
// oldest, newest first, at most limit (default 100, as Slack); a message's
// metadata is included only with include_all_metadata, as Slack does. The
// fake's ts are a counter, not the time, so oldest is compared with when
// the message was posted.
func (s *Server) conversationsHistory(c *Call) result {
	ch := c.Param("channel")
	if ch == "" {
		return fail("channel_not_found")
	}
	if _, known := s.channels[ch]; !known && !strings.HasPrefix(ch, "D") {
		return fail("channel_not_found")
	}
	oldest, _ := strconv.ParseFloat(c.Param("oldest"), 64)
	limit, err := strconv.Atoi(c.Param("limit"))
	if err != nil || limit <= 0 {
		limit = 100
	}
	withMeta := c.Param("include_all_metadata") == "1" || c.Param("include_all_metadata") == "true"
	msgs := []obj{}
	more := false
	all := s.messages[ch]
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		if m.threadTS != "" && m.threadTS != m.ts {
			continue
		}
		if posted := float64(m.posted.UnixMicro()) / 1e6; posted <= oldest {
			break
		}
		if len(msgs) == limit {
			more = true
			break
		}
		w := m.wire()
		if !withMeta {
			delete(w, "metadata")
		}
		msgs = append(msgs, w)
	}
	return success(obj{"messages": msgs, "has_more": more, "pin_count": 0})
}

func (s *Server) conversationsOpen(c *Call) result {
	if ch := c.Param("channel"); ch != "" && c.Param("users") == "" {
		return success(obj{"no_op": true, "already_open": true, "channel": obj{"id": ch}})
	}
	var ids []string
	for id := range strings.SplitSeq(c.Param("users"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return fail("users_list_not_supplied")
	}
	for _, id := range ids {
		if _, ok := s.users[id]; !ok {
			return fail("user_not_found")
		}
	}
	var ch obj
	var id string
	if len(ids) == 1 {
		id = dmChannel(ids[0])
		ch = obj{"id": id}
		if c.Param("return_im") == "true" {
			ch = obj{"id": id, "created": 1700000000, "is_im": true, "is_org_shared": false,
				"user": ids[0], "is_user_deleted": false, "priority": 0}
		}
	} else {
		id = "G" + strings.Join(ids, "")
		ch = obj{"id": id, "is_mpim": true}
	}
	already := s.dms[id]
	s.dms[id] = true
	return success(obj{"no_op": already, "already_open": already, "channel": ch})
}

// ---- messages

type message struct {
	channel, ts, threadTS, text string
	blocks, attachments         json.RawMessage
	metadata                    json.RawMessage
	broadcast                   bool
	updates                     int
	editedTS                    string
	posted, updated             time.Time
}

// Message is the current state of a message the app posted, updates applied.
type Message struct {
	Channel        string
	TS             string
	ThreadTS       string // the parent's ts for a thread reply, else ""
	User           string // the bot user
	BotID          string
	Text           string
	Blocks         json.RawMessage // as the app sent them; nil when none
	Attachments    json.RawMessage
	Metadata       json.RawMessage
	ReplyBroadcast bool
	Updates        int // chat.update calls applied
	Posted         time.Time
	Updated        time.Time
	Replies        []Message // thread replies, oldest first (only on Messages' top-level entries)
}

func (m *message) snapshot() Message {
	return Message{
		Channel: m.channel, TS: m.ts, ThreadTS: m.threadTS, User: BotUserID, BotID: BotID,
		Text: m.text, Blocks: m.blocks, Attachments: m.attachments, Metadata: m.metadata,
		ReplyBroadcast: m.broadcast, Updates: m.updates, Posted: m.posted, Updated: m.updated,
	}
}

// wire is the message object as Slack returns it for a bot's post.
func (m *message) wire() obj {
	w := obj{
		"type":   "message",
		"user":   BotUserID,
		"bot_id": BotID,
		"app_id": AppID,
		"team":   TeamID,
		"text":   m.text,
		"ts":     m.ts,
		"bot_profile": obj{
			"id": BotID, "app_id": AppID, "name": BotName, "deleted": false,
			"team_id": TeamID, "updated": 1700000000,
		},
	}
	if m.blocks != nil {
		w["blocks"] = m.blocks
	}
	if m.attachments != nil {
		w["attachments"] = m.attachments
	}
	if m.metadata != nil {
		w["metadata"] = m.metadata
	}
	if m.threadTS != "" {
		w["thread_ts"] = m.threadTS
	}
	if m.updates > 0 {
		w["edited"] = obj{"user": BotUserID, "ts": m.editedTS}
	}
	return w
}

// Messages returns the channel's top-level messages, oldest first, with their current
// text and blocks and their thread replies.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(channel)
}

func (s *Server) messagesLocked(channel string) []Message {
	var out []Message
	index := map[string]int{}
	for _, m := range s.messages[channel] {
		if m.threadTS == "" {
			index[m.ts] = len(out)
			out = append(out, m.snapshot())
		}
	}
	for _, m := range s.messages[channel] {
		if m.threadTS != "" {
			if i, ok := index[m.threadTS]; ok {
				out[i].Replies = append(out[i].Replies, m.snapshot())
			}
		}
	}
	return out
}

// Message returns one message (top-level or reply) by channel and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.findMessageLocked(channel, ts)
	if m == nil {
		return Message{}, false
	}
	return m.snapshot(), true
}

// WaitForMessage blocks until a message in channel (top-level or reply, in its current
// state) satisfies pred, and returns it.
func (s *Server) WaitForMessage(ctx context.Context, channel string, pred func(Message) bool) (Message, error) {
	var found Message
	err := s.WaitUntil(ctx, func() bool {
		s.mu.Lock()
		var all []Message
		for _, m := range s.messages[channel] {
			all = append(all, m.snapshot())
		}
		s.mu.Unlock()
		for _, m := range all {
			if pred(m) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		return Message{}, fmt.Errorf("slacktest: no matching message in %s (%d messages): %w", channel, len(s.Messages(channel)), err)
	}
	return found, nil
}

func (s *Server) findMessageLocked(channel, ts string) *message {
	return s.byTS[[2]string{channel, ts}]
}

func (s *Server) addMessageLocked(m *message) {
	s.messages[m.channel] = append(s.messages[m.channel], m)
	s.byTS[[2]string{m.channel, m.ts}] = m
}

// resolveChannelLocked maps a user id given as channel to the app's DM with that user,
// as chat.postMessage does.
func (s *Server) resolveChannelLocked(ch string) (string, bool) {
	if ch == "" {
		return "", false
	}
	if strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W") {
		if _, ok := s.users[ch]; !ok {
			return "", false
		}
		return dmChannel(ch), true
	}
	return ch, true
}

// jsonArrayParam returns a parameter that must hold a JSON array.
func jsonArrayParam(c *Call, name string) (json.RawMessage, bool, bool) {
	v, present := c.Params[name]
	if !present || v[0] == "" {
		return nil, present, true
	}
	raw := json.RawMessage(v[0])
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, true, false
	}
	return raw, true, true
}

type content struct {
	text                          string
	hasText, hasBlocks, hasAttach bool
	blocks, attachments, metadata json.RawMessage
	invalid                       string
}

func readContent(c *Call) content {
	var ct content
	if v, ok := c.Params["text"]; ok {
		ct.text, ct.hasText = v[0], true
	}
	var valid bool
	ct.blocks, ct.hasBlocks, valid = jsonArrayParam(c, "blocks")
	if !valid {
		ct.invalid = "invalid_blocks"
	}
	ct.attachments, ct.hasAttach, valid = jsonArrayParam(c, "attachments")
	if !valid {
		ct.invalid = "invalid_attachments"
	}
	if md := c.Param("metadata"); md != "" && json.Valid([]byte(md)) {
		ct.metadata = json.RawMessage(md)
	}
	return ct
}

// empty reports whether the content has nothing to show.
func (ct content) empty() bool {
	return ct.text == "" && len(ct.blocks) <= 2 && len(ct.attachments) <= 2
}

func (s *Server) chatPostMessage(c *Call) result {
	ch, ok := s.resolveChannelLocked(c.Param("channel"))
	if !ok {
		return fail("channel_not_found")
	}
	ct := readContent(c)
	if ct.invalid != "" {
		return fail(ct.invalid)
	}
	if ct.empty() {
		return fail("no_text")
	}
	if len(ct.text) > 40000 {
		return fail("msg_too_long")
	}
	threadTS := c.Param("thread_ts")
	if threadTS != "" {
		parent := s.findMessageLocked(ch, threadTS)
		if parent == nil {
			return fail("thread_not_found")
		}
		if parent.threadTS != "" {
			threadTS = parent.threadTS
		}
	}
	now := time.Now()
	if d := s.cfg.postInterval; d > 0 {
		if last, seen := s.lastPost[ch]; seen && now.Sub(last) < d {
			return result{status: http.StatusTooManyRequests, retryAfter: time.Second}
		}
		s.lastPost[ch] = now
	}
	m := &message{
		channel: ch, ts: s.nextTSLocked(), threadTS: threadTS, text: ct.text,
		blocks: ct.blocks, attachments: ct.attachments, metadata: ct.metadata,
		broadcast: c.Param("reply_broadcast") == "true", posted: now, updated: now,
	}
	s.addMessageLocked(m)
	return success(obj{"channel": ch, "ts": m.ts, "message": m.wire()})
}

func (s *Server) chatUpdate(c *Call) result {
	ch := c.Param("channel")
	if ch == "" {
		return fail("channel_not_found")
	}
	m := s.findMessageLocked(ch, c.Param("ts"))
	if m == nil {
		return fail("message_not_found")
	}
	ct := readContent(c)
	if ct.invalid != "" {
		return fail(ct.invalid)
	}
	if !ct.hasText && !ct.hasBlocks && !ct.hasAttach {
		return fail("no_text")
	}
	if ct.hasText {
		m.text = ct.text
	}
	if ct.hasBlocks {
		m.blocks = ct.blocks
	}
	if ct.hasAttach {
		m.attachments = ct.attachments
	}
	if ct.metadata != nil {
		m.metadata = ct.metadata
	}
	m.updates++
	m.updated = time.Now()
	m.editedTS = fmt.Sprintf("%d.000000", m.updated.Unix())
	return success(obj{"channel": ch, "ts": m.ts, "text": m.text, "message": m.wire()})
}

func (s *Server) chatDelete(c *Call) result {
	ch := c.Param("channel")
	if ch == "" {
		return fail("channel_not_found")
	}
	ts := c.Param("ts")
	msgs := s.messages[ch]
	for i, m := range msgs {
		if m.ts == ts {
			s.messages[ch] = append(msgs[:i:i], msgs[i+1:]...)
			delete(s.byTS, [2]string{ch, ts})
			return success(obj{"channel": ch, "ts": ts})
		}
	}
	return fail("message_not_found")
}

// Ephemeral is a message posted with chat.postEphemeral.
type Ephemeral struct {
	Channel     string
	User        string
	MessageTS   string
	ThreadTS    string
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
	Posted      time.Time
}

// Ephemerals returns the ephemeral messages posted in a channel, oldest first.
func (s *Server) Ephemerals(channel string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ephemeral(nil), s.ephemerals[channel]...)
}

func (s *Server) chatPostEphemeral(c *Call) result {
	ch, ok := s.resolveChannelLocked(c.Param("channel"))
	if !ok {
		return fail("channel_not_found")
	}
	uid := c.Param("user")
	if _, known := s.users[uid]; !known {
		return fail("user_not_in_channel")
	}
	ct := readContent(c)
	if ct.invalid != "" {
		return fail(ct.invalid)
	}
	if ct.empty() {
		return fail("no_text")
	}
	e := Ephemeral{
		Channel: ch, User: uid, MessageTS: s.nextTSLocked(), ThreadTS: c.Param("thread_ts"),
		Text: ct.text, Blocks: ct.blocks, Attachments: ct.attachments, Posted: time.Now(),
	}
	s.ephemerals[ch] = append(s.ephemerals[ch], e)
	return success(obj{"message_ts": e.MessageTS})
}

// Permalink is the link chat.getPermalink answers for a message.
func Permalink(channel, ts, threadTS string) string {
	u := "https://" + TeamDomain + ".slack.com/archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", "")
	if threadTS != "" {
		u += "?thread_ts=" + threadTS + "&cid=" + channel
	}
	return u
}

func (s *Server) chatGetPermalink(c *Call) result {
	ch := c.Param("channel")
	if ch == "" {
		return fail("channel_not_found")
	}
	m := s.findMessageLocked(ch, c.Param("message_ts"))
	if m == nil {
		return fail("message_not_found")
	}
	return success(obj{"channel": ch, "permalink": Permalink(ch, m.ts, m.threadTS)})
}

// ---- response_url

// serveResponseURL records posts to the response_url of a slash command or block action
// as calls of method "response_url" (the JSON body in Call.JSON).
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	call, res := parseCall(r, "response_url")
	call.Params.Set("path", r.URL.Path)
	status := http.StatusOK
	body := []byte(`{"ok":true}`)
	if res.err != "" || r.Method != http.MethodPost {
		status, body = http.StatusBadRequest, []byte(`{"ok":false,"error":"invalid_payload"}`)
	}
	s.mu.Lock()
	call.Status, call.Response = status, body
	if status != http.StatusOK {
		call.Error = "invalid_payload"
	}
	s.calls = append(s.calls, call)
	s.notifyLocked()
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
