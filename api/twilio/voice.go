package twilio

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/notify"
	notifytwilio "github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// A call about incident #12 fetches its script from
// /v1/twilio/voice?incident=12 when it is answered: the page is read as the
// incident is now, then one key is gathered and posted back to the same
// URL (Digits):
//
//	4 acknowledge   6 resolve   5 escalate   * hear it again
//
// and what happened is said before hanging up. A call to our number (no
// incident in the URL) reads the caller's latest open page the same way.

// Keys of the call's menu.
var keyActions = map[string]string{"4": cmdAck, "6": cmdResolve, "5": cmdEscalate}

const (
	menuText     = "Press 4 to acknowledge, 6 to resolve, 5 to escalate, or star to hear this again."
	goodbye      = "Goodbye."
	gatherWait   = 10 // seconds for a key
	summaryChars = 300
)

func (h *Handler) voice(w http.ResponseWriter, r *http.Request, form url.Values) {
	ctx := r.Context()
	log := zerolog.Ctx(ctx)
	// An outbound call (ours) reaches the user at To; an inbound one comes
	// from them.
	phone := form.Get("From")
	if strings.HasPrefix(form.Get("Direction"), "outbound") {
		phone = form.Get("To")
		// Answered at once, the call may overtake the commit of its send,
		// which makes the user one who was paged (MayAct).
		if err := h.Engine.AwaitSends(ctx, notify.MethodVoice, phone); err != nil {
			log.Error().Err(err).Msg("voice: wait for the send")
			sorry(w)
			return
		}
	}
	user, ok, err := h.Engine.UserByPhone(ctx, phone)
	if err != nil {
		log.Error().Err(err).Msg("voice: look up the phone")
		sorry(w)
		return
	}
	if !ok {
		writeTwiML(w, speak("This number is not registered with oncall. "+goodbye), hangup{})
		return
	}

	var id int64
	if v := r.URL.Query().Get("incident"); v != "" {
		id, err = strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			writeTwiML(w, speak("This call is about an incident that does not exist. "+goodbye), hangup{})
			return
		}
	} else {
		id, ok, err = h.Engine.LatestPage(ctx, user, "")
		if err != nil {
			log.Error().Err(err).Str("user", user).Msg("voice: latest page")
			sorry(w)
			return
		}
		if !ok {
			writeTwiML(w, speak("You have no open pages. "+goodbye), hangup{})
			return
		}
	}

	digits := form.Get("Digits")
	kind, isAction := keyActions[digits]
	switch {
	case digits == "" || digits == "*":
		h.read(ctx, w, user, id, digits == "")
	case isAction:
		out, err := h.act(ctx, user, kind, id)
		if err != nil {
			log.Error().Err(err).Str("user", user).Int64("incident", id).Str("action", kind).Msg("voice: key press failed")
			sorry(w)
			return
		}
		log.Info().Str("user", user).Str("command", kind).Int64("incident", id).Bool("changed", out.changed).
			Str("phone", notify.MaskAddress(phone)).Msg("voice key press")
		writeTwiML(w, speak(out.spoken+" "+goodbye), hangup{})
	default:
		writeTwiML(w, speak("That key does nothing."), h.menu(id), speak("No key was pressed. "+goodbye), hangup{})
	}
}

// read says the page and asks for a key.
func (h *Handler) read(ctx context.Context, w http.ResponseWriter, user string, id int64, greet bool) {
	in, err := store.IncidentGet(ctx, h.DB, id, store.LockNone)
	if errors.Is(err, oncall.ErrNotFound) {
		writeTwiML(w, speak("There is no incident "+strconv.FormatInt(id, 10)+". "+goodbye), hangup{})
		return
	}
	if err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Int64("incident", id).Msg("voice: load incident")
		sorry(w)
		return
	}
	may, err := h.Engine.MayAct(ctx, user, id)
	if err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Int64("incident", id).Msg("voice: may act")
		sorry(w)
		return
	}
	if !may {
		writeTwiML(w, speak("You may not act on incident "+strconv.FormatInt(id, 10)+". "+goodbye), hangup{})
		return
	}
	var verbs []any
	if greet {
		verbs = append(verbs, speak("Hello, this is on call, with a page."), pause{Length: 1})
	}
	verbs = append(verbs, speak(spokenPage(in)), h.menu(id), speak("No key was pressed. "+goodbye), hangup{})
	writeTwiML(w, verbs...)
}

// spokenPage is the incident as the call reads it.
func spokenPage(in *store.Incident) string {
	var b strings.Builder
	b.WriteString("Incident " + strconv.FormatInt(in.ID, 10))
	if in.ServiceName != "" {
		b.WriteString(" on " + in.ServiceName)
	}
	b.WriteString(". ")
	if in.Severity != "" {
		b.WriteString(in.Severity + ". ")
	}
	summary := strings.Join(strings.Fields(in.Summary), " ")
	if r := []rune(summary); len(r) > summaryChars {
		summary = string(r[:summaryChars]) + "..."
	}
	if summary != "" {
		b.WriteString(strings.TrimRight(summary, ".") + ". ")
	}
	b.WriteString("It is " + stateBy(in) + ".")
	return b.String()
}

// menu gathers one key, posted back to the incident's URL.
func (h *Handler) menu(id int64) gather {
	return gather{Input: "dtmf", NumDigits: 1, Timeout: gatherWait, Method: http.MethodPost,
		Action: notifytwilio.VoiceURL(h.PublicURL, id), Verbs: []any{speak(menuText)}}
}

func sorry(w http.ResponseWriter) {
	writeTwiML(w, speak("Sorry, something went wrong, and nothing was changed. Please use Slack. "+goodbye), hangup{})
}
