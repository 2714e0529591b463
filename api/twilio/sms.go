package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/notify"
	notifytwilio "github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// Replies to our texts:
//
//	ack 12 | res 12 | esc 12   act on incident #12 (also a/acknowledge, r/resolve, e/escalate, "#12", "ack12")
//	a | r | e                  act on the latest incident texted to you (or, failing that, paged to you)
//	ack all                    acknowledge every triggered incident texted to you
//	STOP | START               no more texts | texts again (Twilio also blocks and confirms)
//	help                       the commands
//
// A reply that does nothing (unknown, refused, moot, or from a number that
// is no user's) gets a short answer, the first idleLimit times in a row;
// after that the number gets silence until a command works, so an
// auto-responder and our answers cannot keep texting each other.

// idleLimit is how many useless replies in a row are answered.
const idleLimit = 3

// ackAllLimit bounds what one "ack all" acknowledges.
const ackAllLimit = 50

const helpText = `Reply "ack 12", "res 12" or "esc 12" for incident #12, or "a", "r" or "e" for your latest page, "ack all" for all.`

// Opt-out keywords, as Twilio matches them: the whole message, any case.
var (
	stopWords  = []string{"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
	startWords = []string{"start", "yes", "unstop"}
	helpWords  = []string{"help", "info", "?", "commands"}
)

// Command kinds.
const (
	cmdUnknown  = ""
	cmdAck      = "ack"
	cmdResolve  = "resolve"
	cmdEscalate = "escalate"
	cmdStop     = "stop"
	cmdStart    = "start"
	cmdHelp     = "help"
)

var verbs = map[string]string{
	"a": cmdAck, "ack": cmdAck, "acknowledge": cmdAck, "ok": cmdAck,
	"r": cmdResolve, "res": cmdResolve, "resolve": cmdResolve,
	"e": cmdEscalate, "esc": cmdEscalate, "escalate": cmdEscalate,
}

// command is a parsed reply.
type command struct {
	kind string
	id   int64 // 0: the latest page
	all  bool  // "ack all"
}

var commandRE = regexp.MustCompile(`^([a-z]+)\s*(?:#?\s*([0-9]{1,18})|\s(all))?$`)

// parseSMS reads a reply; anything it does not understand is cmdUnknown.
func parseSMS(body string) command {
	s := strings.ToLower(strings.Join(strings.Fields(body), " "))
	s = strings.TrimRight(s, ".!")
	switch {
	case slices.Contains(stopWords, s):
		return command{kind: cmdStop}
	case slices.Contains(startWords, s):
		return command{kind: cmdStart}
	case slices.Contains(helpWords, s):
		return command{kind: cmdHelp}
	}
	m := commandRE.FindStringSubmatch(s)
	if m == nil {
		return command{}
	}
	kind, ok := verbs[m[1]]
	if !ok {
		return command{}
	}
	c := command{kind: kind}
	switch {
	case m[3] == "all":
		if kind != cmdAck {
			return command{}
		}
		c.all = true
	case m[2] != "":
		id, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil || id <= 0 {
			return command{}
		}
		c.id = id
	}
	return c
}

// sms answers a text to our number.
func (h *Handler) sms(w http.ResponseWriter, r *http.Request, form url.Values) {
	ctx := r.Context()
	log := zerolog.Ctx(ctx)
	from := form.Get("From")
	if from == "" || len(from) > 32 {
		writeTwiML(w)
		return
	}
	now := h.Clock.Now().UTC()
	cmd := parseSMS(form.Get("Body"))
	switch strings.ToUpper(form.Get("OptOutType")) { // Twilio's Advanced Opt-Out has the last word
	case "STOP":
		cmd = command{kind: cmdStop}
	case "START":
		cmd = command{kind: cmdStart}
	}
	if cmd.kind == cmdStop || cmd.kind == cmdStart {
		// Twilio confirms the keyword itself; an answer of ours would be
		// a second text (or, after STOP, refused).
		if err := store.SMSPhoneOptOut(ctx, h.DB, from, cmd.kind == cmdStop, now); err != nil {
			log.Error().Err(err).Str("phone", notify.MaskAddress(from)).Msg("sms opt-out not recorded")
			http.Error(w, "try again later", http.StatusServiceUnavailable) // Twilio logs it; the phone's side is done
			return
		}
		log.Info().Str("phone", notify.MaskAddress(from)).Str("keyword", cmd.kind).Msg("sms opt-out changed")
		writeTwiML(w)
		return
	}

	reply, acted, err := h.smsCommand(ctx, from, cmd)
	if err != nil {
		log.Error().Err(err).Str("phone", notify.MaskAddress(from)).Str("command", cmd.kind).Msg("sms command failed")
		writeTwiML(w, message{Body: "Something went wrong; nothing was changed. Try again, or use Slack."})
		return
	}
	if acted {
		err = store.SMSPhoneActive(ctx, h.DB, from, now)
	} else {
		var n int
		n, err = store.SMSPhoneIdle(ctx, h.DB, from, now)
		if err == nil && n > idleLimit {
			log.Info().Str("phone", notify.MaskAddress(from)).Int("idle_replies", n).Msg("sms reply not answered (loop guard)")
			writeTwiML(w)
			return
		}
	}
	if err != nil {
		log.Warn().Err(err).Str("phone", notify.MaskAddress(from)).Msg("sms reply count not recorded")
	}
	writeTwiML(w, message{Body: reply})
}

// smsCommand carries out cmd for the phone from, and says how it went;
// acted is false when it changed nothing.
func (h *Handler) smsCommand(ctx context.Context, from string, cmd command) (reply string, acted bool, err error) {
	user, ok, err := h.Engine.UserByPhone(ctx, from)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "This number is not registered with oncall.", false, nil
	}
	switch {
	case cmd.kind == cmdHelp:
		return helpText, false, nil
	case cmd.kind == cmdUnknown:
		return "Unknown command. " + helpText, false, nil
	case cmd.all:
		return h.ackAll(ctx, user)
	}
	id := cmd.id
	if id == 0 {
		id, ok, err = h.Engine.LatestPage(ctx, user, notify.MethodSMS)
		if err == nil && !ok {
			id, ok, err = h.Engine.LatestPage(ctx, user, "")
		}
		if err != nil {
			return "", false, err
		}
		if !ok {
			return "You have no open pages. " + helpText, false, nil
		}
	}
	out, err := h.act(ctx, user, cmd.kind, id)
	if err != nil {
		return "", false, err
	}
	zerolog.Ctx(ctx).Info().Str("user", user).Str("command", cmd.kind).Int64("incident", id).Bool("changed", out.changed).Msg("sms command")
	return out.text, out.changed, nil
}

// ackAll acknowledges every triggered incident texted to user.
func (h *Handler) ackAll(ctx context.Context, user string) (string, bool, error) {
	ids, err := store.SMSPagedIncidents(ctx, h.DB, user, ackAllLimit)
	if err != nil {
		return "", false, err
	}
	var done []string
	for _, id := range ids {
		out, err := h.act(ctx, user, cmdAck, id)
		if err != nil {
			return "", false, err
		}
		if out.changed {
			done = append(done, "#"+strconv.FormatInt(id, 10))
		}
	}
	if len(done) == 0 {
		return "No triggered incident was texted to you: nothing to acknowledge.", false, nil
	}
	return notifytwilio.Fit(fmt.Sprintf("Acknowledged %d: %s.", len(done), strings.Join(done, ", ")), notifytwilio.SegmentSeptets), true, nil
}

// outcome is what an action did, in words for a text or a call.
type outcome struct {
	text    string
	spoken  string
	changed bool
}

// act does kind (ack, resolve, escalate) to incident id as user, if they
// may. Refusals and moot actions are outcomes, not errors.
func (h *Handler) act(ctx context.Context, user, kind string, id int64) (outcome, error) {
	num := "#" + strconv.FormatInt(id, 10)
	spokenNum := "incident " + strconv.FormatInt(id, 10)
	before, err := store.IncidentGet(ctx, h.DB, id, store.LockNone)
	if errors.Is(err, oncall.ErrNotFound) {
		return outcome{text: "There is no incident " + num + ".", spoken: "There is no " + spokenNum + "."}, nil
	}
	if err != nil {
		return outcome{}, err
	}
	may, err := h.Engine.MayAct(ctx, user, id)
	if err != nil {
		return outcome{}, err
	}
	if !may {
		return outcome{text: "You may not act on incident " + num + ".", spoken: "You may not act on " + spokenNum + "."}, nil
	}
	var after *store.Incident
	switch kind {
	case cmdAck:
		after, err = h.Engine.Ack(ctx, id, user)
	case cmdResolve:
		after, err = h.Engine.Resolve(ctx, id, user)
	case cmdEscalate:
		after, err = h.Engine.Escalate(ctx, id, user)
	default:
		return outcome{}, fmt.Errorf("unknown action %q", kind)
	}
	var ue *oncall.UserError
	if errors.As(err, &ue) {
		return outcome{text: ue.Msg, spoken: ue.Msg}, nil
	}
	if err != nil {
		return outcome{}, fmt.Errorf("%s incident %d: %w", kind, id, err)
	}
	about := notifytwilio.Fit(after.ServiceName+": "+after.Summary, 100)
	switch {
	case kind == cmdAck && before.State == store.StateTriggered && after.State == store.StateAcknowledged && after.AcknowledgedBy == user:
		return outcome{text: "Acknowledged " + num + " " + about, spoken: "Acknowledged " + spokenNum + ".", changed: true}, nil
	case kind == cmdResolve && before.Open() && after.State == store.StateResolved && after.ResolvedBy == user:
		return outcome{text: "Resolved " + num + " " + about, spoken: "Resolved " + spokenNum + ".", changed: true}, nil
	case kind == cmdEscalate && before.Open() && after.Open():
		return outcome{text: "Escalated " + num + " to the next step. " + about,
			spoken: "Escalated " + spokenNum + " to the next step.", changed: true}, nil
	}
	state := stateBy(after)
	return outcome{text: num + " is already " + state + ".", spoken: strings.ToUpper(spokenNum[:1]) + spokenNum[1:] + " is already " + state + "."}, nil
}

// stateBy is "acknowledged by bob", "resolved", "triggered".
func stateBy(in *store.Incident) string {
	by := ""
	switch in.State {
	case store.StateAcknowledged:
		by = in.AcknowledgedBy
	case store.StateResolved:
		by = in.ResolvedBy
	}
	if by == "" {
		return in.State
	}
	return in.State + " by " + by
}
