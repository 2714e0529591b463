package twilio

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/notify"
)

// Twilio reports how each message and call went to /v1/twilio/status
// (MessageSid + MessageStatus, or CallSid + CallStatus). The final reports
// go on the timeline of the incident(s) the message or call was about; a
// message undelivered or failed, or a call busy, unanswered, failed or
// canceled, is a failed attempt: the user's next notification rule comes
// forward at once. Progress reports (queued, sent, ringing...) and unknown
// SIDs are acknowledged and ignored.

// callFailures are the final call statuses that mean nobody heard it.
var callFailures = map[string]string{
	"busy":      "the line was busy",
	"no-answer": "nobody answered",
	"failed":    "the call could not be placed",
	"canceled":  "the call was canceled",
}

// smsErrors explain Twilio's delivery error codes.
var smsErrors = map[string]string{
	"30001": "queue overflow",
	"30002": "account suspended",
	"30003": "unreachable handset",
	"30004": "message blocked",
	"30005": "unknown or inactive number",
	"30006": "landline or unreachable carrier",
	"30007": "filtered as spam by the carrier",
	"30008": "unknown error",
	"21610": "the recipient unsubscribed (replied STOP)",
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request, form url.Values) {
	ctx := r.Context()
	method, report := "", h.messageStatus
	switch {
	case form.Get("MessageSid") != "":
		method = notify.MethodSMS
	case form.Get("CallSid") != "":
		method, report = notify.MethodVoice, h.callStatus
	default:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// The report may overtake the commit of the send it is about (a
	// message can fail within milliseconds): wait for sends to the number
	// under way, so that their receipts are there to be found.
	err := h.Engine.AwaitSends(ctx, method, form.Get("To"))
	if err == nil {
		err = report(ctx, form)
	}
	if err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Msg("twilio status report not recorded")
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) messageStatus(ctx context.Context, form url.Values) error {
	sid, status := form.Get("MessageSid"), form.Get("MessageStatus")
	if status == "" {
		status = form.Get("SmsStatus")
	}
	switch status {
	case "delivered":
		return h.Engine.DeliveryReported(ctx, notify.MethodSMS, sid, "delivered to the phone")
	case "undelivered", "failed":
		reason := "the message was " + status
		if code := form.Get("ErrorCode"); code != "" && len(code) <= 8 {
			if _, err := strconv.Atoi(code); err == nil {
				reason += " (Twilio error " + code
				if why := smsErrors[code]; why != "" {
					reason += ": " + why
				}
				reason += ")"
			}
		}
		zerolog.Ctx(ctx).Info().Str("sid", sid).Str("status", status).Msg("sms not delivered")
		return h.Engine.DeliveryFailed(ctx, notify.MethodSMS, sid, reason)
	}
	return nil
}

func (h *Handler) callStatus(ctx context.Context, form url.Values) error {
	sid, status := form.Get("CallSid"), form.Get("CallStatus")
	if why, failed := callFailures[status]; failed {
		zerolog.Ctx(ctx).Info().Str("sid", sid).Str("status", status).Msg("call not answered")
		return h.Engine.DeliveryFailed(ctx, notify.MethodVoice, sid, why+" ("+status+")")
	}
	if status != "completed" {
		return nil
	}
	report := "answered"
	if d, err := strconv.Atoi(form.Get("CallDuration")); err == nil && d >= 0 {
		report += " (" + strconv.Itoa(d) + " s)"
	}
	return h.Engine.DeliveryReported(ctx, notify.MethodVoice, sid, report)
}
