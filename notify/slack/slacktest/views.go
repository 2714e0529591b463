package slacktest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ---- trigger ids

type trigger struct {
	user   string
	issued time.Time
	used   bool
}

// NewTriggerID issues a trigger_id for a user, as Slack puts one in slash command and
// interaction payloads. views.open and views.push accept it once, within the trigger
// TTL (3 s by default).
func (s *Server) NewTriggerID(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTriggerLocked(userID)
}

func (s *Server) newTriggerLocked(userID string) string {
	s.seq++
	id := fmt.Sprintf("%d.%d.%s", 1700000000000+s.seq, 1700000000, randomHex(16))
	s.triggers[id] = &trigger{user: userID, issued: time.Now()}
	return id
}

func (s *Server) useTriggerLocked(id string) (string, string) {
	if id == "" {
		return "", "invalid_arguments"
	}
	tr, ok := s.triggers[id]
	switch {
	case !ok:
		return "", "invalid_trigger_id"
	case tr.used:
		return "", "exchanged_trigger_id"
	case s.cfg.triggerTTL > 0 && time.Since(tr.issued) > s.cfg.triggerTTL:
		return "", "expired_trigger_id"
	}
	tr.used = true
	return tr.user, ""
}

// ---- views

type view struct {
	id, typ, user, hash    string
	rootID, previousID     string
	externalID, callbackID string
	privateMetadata        string
	def                    map[string]json.RawMessage
	raw                    json.RawMessage
	state                  json.RawMessage
	opened, updated        time.Time
	updates                int
	closed                 bool
}

// View is a modal or App Home view the app opened, pushed, updated or published.
type View struct {
	ID              string
	Type            string // "modal" or "home"
	UserID          string // whose trigger opened it, or whose App Home it is
	CallbackID      string
	ExternalID      string
	PrivateMetadata string
	Hash            string
	RootViewID      string
	PreviousViewID  string
	Title           json.RawMessage
	Blocks          json.RawMessage
	JSON            json.RawMessage // the view object as the app last sent it
	Updates         int             // views.update / views.publish / response_action "update" applied
	// Closed is set when a submission was acked without response_action "errors",
	// "update" or "push" (or with "clear").
	Closed  bool
	Opened  time.Time
	Updated time.Time
}

func (v *view) snapshot() View {
	return View{
		ID: v.id, Type: v.typ, UserID: v.user, CallbackID: v.callbackID, ExternalID: v.externalID,
		PrivateMetadata: v.privateMetadata, Hash: v.hash, RootViewID: v.rootID,
		PreviousViewID: v.previousID, Title: v.def["title"], Blocks: v.def["blocks"], JSON: v.raw,
		Updates: v.updates, Closed: v.closed, Opened: v.opened, Updated: v.updated,
	}
}

func rawString(m map[string]json.RawMessage, key string) string {
	var s string
	if v, ok := m[key]; ok {
		_ = json.Unmarshal(v, &s)
	}
	return s
}

// parseView reads the "view" parameter of a views.* call.
func parseView(raw string, wantType string) (map[string]json.RawMessage, string) {
	if raw == "" {
		return nil, "invalid_arguments"
	}
	var def map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &def); err != nil {
		return nil, "invalid_arguments"
	}
	if rawString(def, "type") != wantType {
		return nil, "invalid_arguments"
	}
	var blocks []json.RawMessage
	if b, ok := def["blocks"]; ok && string(b) != "null" {
		if err := json.Unmarshal(b, &blocks); err != nil {
			return nil, "invalid_blocks"
		}
	}
	if len(blocks) > 100 {
		return nil, "invalid_arguments"
	}
	return def, ""
}

func (s *Server) newViewHashLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%08x", time.Now().Unix(), s.seq)
}

func (s *Server) setViewDefLocked(v *view, def map[string]json.RawMessage, raw string) {
	v.def = def
	v.raw = json.RawMessage(raw)
	v.typ = rawString(def, "type")
	v.callbackID = rawString(def, "callback_id")
	v.privateMetadata = rawString(def, "private_metadata")
	if ext := rawString(def, "external_id"); ext != "" {
		v.externalID = ext
	}
	v.hash = s.newViewHashLocked()
	v.updated = time.Now()
}

func (s *Server) newViewLocked(user string, def map[string]json.RawMessage, raw string) *view {
	v := &view{id: s.newIDLocked("V"), user: user, opened: time.Now()}
	s.setViewDefLocked(v, def, raw)
	v.rootID = v.id
	s.views[v.id] = v
	return v
}

// wire is the view object as Slack returns it.
func (v *view) wire() obj {
	w := obj{}
	for k, val := range v.def {
		w[k] = val
	}
	state := v.state
	if state == nil {
		state = json.RawMessage(`{"values":{}}`)
	}
	var previous any
	if v.previousID != "" {
		previous = v.previousID
	}
	fields := obj{
		"id": v.id, "team_id": TeamID, "type": v.typ, "private_metadata": v.privateMetadata,
		"callback_id": v.callbackID, "state": state, "hash": v.hash, "root_view_id": v.rootID,
		"previous_view_id": previous, "app_id": AppID, "external_id": v.externalID,
		"app_installed_team_id": TeamID, "bot_id": BotID,
	}
	for k, val := range fields {
		w[k] = val
	}
	for _, k := range []string{"clear_on_close", "notify_on_close"} {
		if _, ok := w[k]; !ok {
			w[k] = false
		}
	}
	return w
}

func (s *Server) externalIDTakenLocked(def map[string]json.RawMessage, except string) bool {
	ext := rawString(def, "external_id")
	if ext == "" {
		return false
	}
	for _, v := range s.views {
		if v.externalID == ext && v.id != except {
			return true
		}
	}
	return false
}

func (s *Server) viewsOpen(c *Call) result {
	user, code := s.useTriggerLocked(c.Param("trigger_id"))
	if code != "" {
		return fail(code)
	}
	def, code := parseView(c.Param("view"), "modal")
	if code != "" {
		return fail(code)
	}
	if s.externalIDTakenLocked(def, "") {
		return fail("duplicate_external_id")
	}
	v := s.newViewLocked(user, def, c.Param("view"))
	return success(obj{"view": v.wire()})
}

// topModalLocked is the user's most recently opened modal that is still open.
func (s *Server) topModalLocked(user string) *view {
	var top *view
	for _, v := range s.views {
		if v.typ == "modal" && v.user == user && !v.closed {
			if top == nil || v.opened.After(top.opened) || (v.opened.Equal(top.opened) && v.id > top.id) {
				top = v
			}
		}
	}
	return top
}

func (s *Server) viewsPush(c *Call) result {
	user, code := s.useTriggerLocked(c.Param("trigger_id"))
	if code != "" {
		return fail(code)
	}
	def, code := parseView(c.Param("view"), "modal")
	if code != "" {
		return fail(code)
	}
	top := s.topModalLocked(user)
	if top == nil {
		return fail("not_found")
	}
	depth := 0
	for _, v := range s.views {
		if v.rootID == top.rootID && !v.closed {
			depth++
		}
	}
	if depth >= 3 {
		return fail("push_limit_reached")
	}
	v := s.newViewLocked(user, def, c.Param("view"))
	v.rootID, v.previousID = top.rootID, top.id
	return success(obj{"view": v.wire()})
}

func (s *Server) viewsUpdate(c *Call) result {
	var v *view
	if id := c.Param("view_id"); id != "" {
		v = s.views[id]
	} else if ext := c.Param("external_id"); ext != "" {
		for _, cand := range s.views {
			if cand.externalID == ext {
				v = cand
			}
		}
	} else {
		return fail("invalid_arguments")
	}
	if v == nil {
		return fail("not_found")
	}
	if h := c.Param("hash"); h != "" && h != v.hash {
		return fail("hash_conflict")
	}
	def, code := parseView(c.Param("view"), v.typ)
	if code != "" {
		return fail(code)
	}
	if s.externalIDTakenLocked(def, v.id) {
		return fail("duplicate_external_id")
	}
	s.setViewDefLocked(v, def, c.Param("view"))
	v.updates++
	return success(obj{"view": v.wire()})
}

func (s *Server) viewsPublish(c *Call) result {
	uid := c.Param("user_id")
	if _, known := s.users[uid]; !known {
		return fail("user_not_found")
	}
	def, code := parseView(c.Param("view"), "home")
	if code != "" {
		return fail(code)
	}
	v := s.views[s.homes[uid]]
	if h := c.Param("hash"); h != "" && v != nil && h != v.hash {
		return fail("hash_conflict")
	}
	if v == nil {
		v = s.newViewLocked(uid, def, c.Param("view"))
		s.homes[uid] = v.id
	} else {
		s.setViewDefLocked(v, def, c.Param("view"))
		v.updates++
	}
	return success(obj{"view": v.wire()})
}

// View returns a view by id.
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return v.snapshot(), true
}

// Views returns every view, in the order they were first opened or published.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.views))
	for _, v := range s.views {
		out = append(out, v.snapshot())
	}
	slices.SortFunc(out, func(a, b View) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// HomeView returns the App Home view last published for a user.
func (s *Server) HomeView(userID string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[s.homes[userID]]
	if !ok {
		return View{}, false
	}
	return v.snapshot(), true
}

// applyViewResponseLocked applies a view_submission ack's response_action to the
// submitted view, as Slack does.
func (s *Server) applyViewResponseLocked(v *view, payload json.RawMessage) {
	var resp struct {
		ResponseAction string          `json:"response_action"`
		View           json.RawMessage `json:"view"`
	}
	if len(payload) > 0 {
		_ = json.Unmarshal(payload, &resp)
	}
	switch resp.ResponseAction {
	case "errors":
	case "update":
		if def, code := parseView(string(resp.View), "modal"); code == "" {
			s.setViewDefLocked(v, def, string(resp.View))
			v.updates++
		}
	case "push":
		if def, code := parseView(string(resp.View), "modal"); code == "" {
			nv := s.newViewLocked(v.user, def, string(resp.View))
			nv.rootID, nv.previousID = v.rootID, v.id
		}
	case "clear":
		for _, other := range s.views {
			if other.rootID == v.rootID {
				other.closed = true
			}
		}
	default:
		v.closed = true
	}
}

// ---- user groups

type userGroup struct {
	id, name, handle, description string
	users, channels               []string
	created, updatedAt            int64
	updatedBy                     string
	updates                       int
}

// UserGroup is a user group's current state.
type UserGroup struct {
	ID          string
	Name        string
	Handle      string
	Description string
	Users       []string
	Channels    []string
	Updates     int // usergroups.users.update calls applied
}

func (g *userGroup) snapshot() UserGroup {
	return UserGroup{
		ID: g.id, Name: g.name, Handle: g.handle, Description: g.description,
		Users: slices.Clone(g.users), Channels: slices.Clone(g.channels), Updates: g.updates,
	}
}

func (g *userGroup) wire(withUsers bool) obj {
	channels := g.channels
	if channels == nil {
		channels = []string{}
	}
	w := obj{
		"id": g.id, "team_id": TeamID, "is_usergroup": true, "is_subteam": true,
		"name": g.name, "description": g.description, "handle": g.handle,
		"is_external": false, "date_create": g.created, "date_update": g.updatedAt,
		"date_delete": 0, "auto_type": nil, "created_by": BotUserID, "updated_by": g.updatedBy,
		"deleted_by": nil, "prefs": obj{"channels": channels, "groups": []string{}},
		"user_count": len(g.users),
	}
	if withUsers {
		users := g.users
		if users == nil {
			users = []string{}
		}
		w["users"] = users
	}
	return w
}

// AddUserGroup creates a user group as if it already existed in the workspace.
func (s *Server) AddUserGroup(id, handle, name string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[id]; !ok {
		s.groupOrder = append(s.groupOrder, id)
	}
	now := time.Now().Unix()
	s.groups[id] = &userGroup{id: id, name: name, handle: handle, users: slices.Clone(users),
		created: now, updatedAt: now, updatedBy: BotUserID}
}

// UserGroup returns a user group by id.
func (s *Server) UserGroup(id string) (UserGroup, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	if !ok {
		return UserGroup{}, false
	}
	return g.snapshot(), true
}

// UserGroups returns every user group in creation order.
func (s *Server) UserGroups() []UserGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []UserGroup
	for _, id := range s.groupOrder {
		out = append(out, s.groups[id].snapshot())
	}
	return out
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) usergroupsCreate(c *Call) result {
	name := c.Param("name")
	if name == "" {
		return fail("invalid_arguments")
	}
	handle := c.Param("handle")
	if handle == "" {
		handle = strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	}
	for _, g := range s.groups {
		if g.name == name {
			return fail("name_already_exists")
		}
		if g.handle == handle {
			return fail("handle_already_exists")
		}
	}
	now := time.Now().Unix()
	g := &userGroup{id: s.newIDLocked("S"), name: name, handle: handle,
		description: c.Param("description"), channels: splitList(c.Param("channels")),
		created: now, updatedAt: now, updatedBy: BotUserID}
	s.groups[g.id] = g
	s.groupOrder = append(s.groupOrder, g.id)
	return success(obj{"usergroup": g.wire(true)})
}

func (s *Server) usergroupsList(c *Call) result {
	groups := []obj{}
	for _, id := range s.groupOrder {
		groups = append(groups, s.groups[id].wire(c.Param("include_users") == "true"))
	}
	return success(obj{"usergroups": groups})
}

func (s *Server) usergroupsUsersUpdate(c *Call) result {
	g, found := s.groups[c.Param("usergroup")]
	if !found {
		return fail("no_such_subteam")
	}
	users := splitList(c.Param("users"))
	if len(users) == 0 {
		return fail("no_users_provided")
	}
	for _, u := range users {
		if _, known := s.users[u]; !known {
			return fail("invalid_users")
		}
	}
	g.users = users
	g.updates++
	g.updatedAt = time.Now().Unix()
	return success(obj{"usergroup": g.wire(true)})
}

func (s *Server) usergroupsUsersList(c *Call) result {
	g, found := s.groups[c.Param("usergroup")]
	if !found {
		return fail("no_such_subteam")
	}
	users := slices.Clone(g.users)
	if users == nil {
		users = []string{}
	}
	return success(obj{"users": users})
}
