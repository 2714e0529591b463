package slacktest

import (
	"encoding/json"
	"fmt"
	"time"
)

// actionTS is a Slack-style timestamp for now.
func actionTS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

func (s *Server) userObjLocked(id string) obj {
	name, team := id, TeamID
	if u, ok := s.users[id]; ok {
		name, team = u.handle(), u.teamID()
	}
	return obj{"id": id, "username": name, "name": name, "team_id": team}
}

func (s *Server) channelNameLocked(id string) string {
	if name, ok := s.channels[id]; ok {
		return name
	}
	if len(id) > 0 && id[0] == 'D' {
		return "directmessage"
	}
	return ""
}

func (s *Server) responseURLLocked(kind string) string {
	s.seq++
	return fmt.Sprintf("%s/%s/%s/%d/%s", s.hs.URL, kind, TeamID, 1700000000000+s.seq, randomHex(12))
}

// SlashCommand is a slash command a user typed.
type SlashCommand struct {
	Command     string // e.g. "/oncall"
	Text        string
	UserID      string
	ChannelID   string // default: the user's DM with the app
	TriggerID   string // default: a fresh trigger_id for the user
	ResponseURL string // default: a response_url on the fake (posts recorded as "response_url" calls)
}

// SendSlashCommand pushes a slash_commands envelope with the payload Slack sends in
// Socket Mode (the slash command's form fields as a JSON object of strings) and
// returns its envelope_id.
func (s *Server) SendSlashCommand(cmd SlashCommand) string {
	s.mu.Lock()
	if cmd.ChannelID == "" {
		cmd.ChannelID = dmChannel(cmd.UserID)
	}
	if cmd.TriggerID == "" {
		cmd.TriggerID = s.newTriggerLocked(cmd.UserID)
	}
	if cmd.ResponseURL == "" {
		cmd.ResponseURL = s.responseURLLocked("commands")
	}
	payload := map[string]string{
		"token":                 VerificationToken,
		"team_id":               TeamID,
		"team_domain":           TeamDomain,
		"channel_id":            cmd.ChannelID,
		"channel_name":          s.channelNameLocked(cmd.ChannelID),
		"user_id":               cmd.UserID,
		"user_name":             s.userObjLocked(cmd.UserID)["name"].(string),
		"command":               cmd.Command,
		"text":                  cmd.Text,
		"api_app_id":            AppID,
		"is_enterprise_install": "false",
		"response_url":          cmd.ResponseURL,
		"trigger_id":            cmd.TriggerID,
	}
	raw, _ := json.Marshal(payload)
	e := s.enqueueLocked(TypeSlashCommands, raw, true)
	e.channel, e.user = cmd.ChannelID, cmd.UserID
	s.mu.Unlock()
	s.kickDispatcher()
	return e.id
}

// SelectOption is an option of a select menu.
type SelectOption struct {
	Text  string
	Value string
}

func (o SelectOption) wire() obj {
	return obj{"text": obj{"type": "plain_text", "text": o.Text, "emoji": true}, "value": o.Value}
}

// BlockAction is a user's click on an interactive element of a message or a view.
type BlockAction struct {
	UserID   string
	ActionID string
	// BlockID defaults to the block_id of the block holding ActionID in the message's
	// or view's blocks, else "slacktest".
	BlockID string
	Type    string // element type; default "button"
	Value   string // a button's value
	Text    string // a button's label
	// SelectedOption is a static_select's choice; SelectedUser a users_select's.
	SelectedOption *SelectOption
	SelectedUser   string

	// The message clicked (posted through the fake). Its current blocks go in the payload.
	ChannelID string
	MessageTS string
	// Or the view clicked (a modal, or an App Home published through the fake).
	ViewID string

	TriggerID string // default: a fresh trigger_id for the user
}

// findBlockID looks for the block holding an element with actionID.
func findBlockID(blocks json.RawMessage, actionID string) string {
	var bs []struct {
		BlockID   string `json:"block_id"`
		Accessory *struct {
			ActionID string `json:"action_id"`
		} `json:"accessory"`
		Element *struct {
			ActionID string `json:"action_id"`
		} `json:"element"`
		Elements []struct {
			ActionID string `json:"action_id"`
		} `json:"elements"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return ""
	}
	for _, b := range bs {
		match := (b.Accessory != nil && b.Accessory.ActionID == actionID) ||
			(b.Element != nil && b.Element.ActionID == actionID)
		for _, el := range b.Elements {
			match = match || el.ActionID == actionID
		}
		if match {
			return b.BlockID
		}
	}
	return ""
}

// SendBlockAction pushes an interactive envelope with a block_actions payload and
// returns its envelope_id. The payload carries the message (or view) in its current
// state, as Slack's does.
func (s *Server) SendBlockAction(a BlockAction) string {
	s.mu.Lock()
	now := time.Now()
	if a.TriggerID == "" {
		a.TriggerID = s.newTriggerLocked(a.UserID)
	}
	if a.Type == "" {
		a.Type = "button"
	}
	payload := obj{
		"type":                  "block_actions",
		"user":                  s.userObjLocked(a.UserID),
		"api_app_id":            AppID,
		"token":                 VerificationToken,
		"trigger_id":            a.TriggerID,
		"team":                  obj{"id": TeamID, "domain": TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"state":                 obj{"values": obj{}},
	}
	var blocks json.RawMessage
	switch {
	case a.ViewID != "":
		v, ok := s.views[a.ViewID]
		if !ok {
			s.mu.Unlock()
			s.t.Errorf("slacktest: SendBlockAction: no view %s", a.ViewID)
			return ""
		}
		blocks = v.def["blocks"]
		payload["container"] = obj{"type": "view", "view_id": v.id}
		payload["view"] = v.wire()
	default:
		payload["container"] = obj{"type": "message", "message_ts": a.MessageTS,
			"channel_id": a.ChannelID, "is_ephemeral": false}
		payload["channel"] = obj{"id": a.ChannelID, "name": s.channelNameLocked(a.ChannelID)}
		if m := s.findMessageLocked(a.ChannelID, a.MessageTS); m != nil {
			blocks = m.blocks
			payload["message"] = m.wire()
			if m.threadTS != "" {
				payload["container"].(obj)["thread_ts"] = m.threadTS
			}
		}
		payload["response_url"] = s.responseURLLocked("actions")
	}
	if a.BlockID == "" {
		a.BlockID = findBlockID(blocks, a.ActionID)
	}
	if a.BlockID == "" {
		a.BlockID = "slacktest"
	}
	action := obj{
		"action_id": a.ActionID,
		"block_id":  a.BlockID,
		"type":      a.Type,
		"action_ts": actionTS(now),
	}
	if a.Type == "button" {
		action["text"] = obj{"type": "plain_text", "text": a.Text, "emoji": true}
		action["value"] = a.Value
	}
	if a.SelectedOption != nil {
		action["selected_option"] = a.SelectedOption.wire()
	}
	if a.SelectedUser != "" {
		action["selected_user"] = a.SelectedUser
	}
	payload["actions"] = []obj{action}
	raw, _ := json.Marshal(payload)
	e := s.enqueueLocked(TypeInteractive, raw, true)
	s.mu.Unlock()
	s.kickDispatcher()
	return e.id
}

// Value is the state of one input element in a view submission.
type Value struct {
	Type                 string // e.g. "plain_text_input", "static_select", "users_select", "datepicker"
	Value                string
	SelectedOption       *SelectOption
	SelectedOptions      []SelectOption
	SelectedUser         string
	SelectedUsers        []string
	SelectedChannel      string
	SelectedConversation string
	SelectedDate         string // YYYY-MM-DD
	SelectedTime         string // HH:mm
}

func (v Value) wire() obj {
	w := obj{"type": v.Type}
	switch {
	case v.SelectedOption != nil:
		w["selected_option"] = v.SelectedOption.wire()
	case v.SelectedOptions != nil:
		opts := []obj{}
		for _, o := range v.SelectedOptions {
			opts = append(opts, o.wire())
		}
		w["selected_options"] = opts
	case v.SelectedUser != "":
		w["selected_user"] = v.SelectedUser
	case v.SelectedUsers != nil:
		w["selected_users"] = v.SelectedUsers
	case v.SelectedChannel != "":
		w["selected_channel"] = v.SelectedChannel
	case v.SelectedConversation != "":
		w["selected_conversation"] = v.SelectedConversation
	case v.SelectedDate != "":
		w["selected_date"] = v.SelectedDate
	case v.SelectedTime != "":
		w["selected_time"] = v.SelectedTime
	default:
		w["value"] = v.Value
	}
	return w
}

// ViewSubmission is a user submitting a modal.
type ViewSubmission struct {
	UserID string
	// ViewID is a modal opened through the fake; its callback_id, private_metadata and
	// blocks are sent, and the ack's response_action is applied to it.
	ViewID string
	// CallbackID and PrivateMetadata describe a view not opened through the fake.
	CallbackID      string
	PrivateMetadata string
	// Values maps block_id -> action_id -> the input's state.
	Values map[string]map[string]Value
}

// SendViewSubmission pushes an interactive envelope with a view_submission payload and
// returns its envelope_id.
func (s *Server) SendViewSubmission(sub ViewSubmission) string {
	s.mu.Lock()
	values := obj{}
	for blockID, actions := range sub.Values {
		byAction := obj{}
		for actionID, v := range actions {
			byAction[actionID] = v.wire()
		}
		values[blockID] = byAction
	}
	state, _ := json.Marshal(obj{"values": values})
	var viewObj obj
	if sub.ViewID != "" {
		v, ok := s.views[sub.ViewID]
		if !ok {
			s.mu.Unlock()
			s.t.Errorf("slacktest: SendViewSubmission: no view %s", sub.ViewID)
			return ""
		}
		v.state = state
		viewObj = v.wire()
		if sub.UserID == "" {
			sub.UserID = v.user
		}
	} else {
		viewObj = obj{
			"id": s.newIDLocked("V"), "team_id": TeamID, "type": "modal", "blocks": []obj{},
			"private_metadata": sub.PrivateMetadata, "callback_id": sub.CallbackID,
			"state": json.RawMessage(state), "hash": s.newViewHashLocked(), "app_id": AppID,
			"bot_id": BotID, "external_id": "", "app_installed_team_id": TeamID,
			"clear_on_close": false, "notify_on_close": false,
			"title": obj{"type": "plain_text", "text": "Modal", "emoji": true},
		}
		viewObj["root_view_id"] = viewObj["id"]
		viewObj["previous_view_id"] = nil
	}
	payload := obj{
		"type":                  "view_submission",
		"team":                  obj{"id": TeamID, "domain": TeamDomain},
		"user":                  s.userObjLocked(sub.UserID),
		"api_app_id":            AppID,
		"token":                 VerificationToken,
		"trigger_id":            s.newTriggerLocked(sub.UserID),
		"view":                  viewObj,
		"response_urls":         []obj{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	raw, _ := json.Marshal(payload)
	e := s.enqueueLocked(TypeInteractive, raw, true)
	e.viewID = sub.ViewID
	s.mu.Unlock()
	s.kickDispatcher()
	return e.id
}

// SendEvent pushes an events_api envelope whose payload is an event_callback wrapping
// event (any value that marshals to a JSON object with a "type"; "event_ts" is added
// when missing) and returns its envelope_id.
func (s *Server) SendEvent(event any) string {
	raw, err := json.Marshal(event)
	var inner map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &inner)
	}
	if err != nil || rawString(inner, "type") == "" {
		s.t.Errorf("slacktest: SendEvent: event must be a JSON object with a type (err %v)", err)
		return ""
	}
	now := time.Now()
	if _, ok := inner["event_ts"]; !ok {
		inner["event_ts"], _ = json.Marshal(actionTS(now))
	}
	s.mu.Lock()
	payload := obj{
		"token":      VerificationToken,
		"team_id":    TeamID,
		"api_app_id": AppID,
		"event":      inner,
		"type":       "event_callback",
		"event_id":   s.newIDLocked("Ev"),
		"event_time": now.Unix(),
		"authorizations": []obj{{
			"enterprise_id": nil, "team_id": TeamID, "user_id": BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-" + randomHex(16),
	}
	body, _ := json.Marshal(payload)
	e := s.enqueueLocked(TypeEventsAPI, body, false)
	s.mu.Unlock()
	s.kickDispatcher()
	return e.id
}

// SendAppHomeOpened pushes the app_home_opened event for a user opening the app's Home
// tab, with the Home view last published for them (if any), and returns its
// envelope_id.
func (s *Server) SendAppHomeOpened(userID string) string {
	ev := obj{"type": "app_home_opened", "user": userID, "channel": dmChannel(userID), "tab": "home"}
	s.mu.Lock()
	if v, ok := s.views[s.homes[userID]]; ok {
		ev["view"] = v.wire()
	}
	s.mu.Unlock()
	return s.SendEvent(ev)
}
