package twilio

import (
	"context"
	"errors"
	"fmt"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oncall/oncall/notify"
)

// Voice pages by phone call. Twilio fetches what the call says from
// api/twilio (VoiceURL: the incident as it is when the call is answered,
// with a menu: 4 acknowledge, 6 resolve, 5 escalate, * repeat), and reports
// how the call ended to the status callback: busy, no-answer, failed and
// canceled count as a failed attempt there. Its receipt is the call SID.
type Voice struct{ c *conn }

// NewVoice returns the voice channel of a Twilio account. It needs
// Config.PublicURL: without one every call fails as permanent.
func NewVoice(cfg Config) *Voice { return &Voice{c: newConn(cfg)} }

var _ notify.Channel = (*Voice)(nil)

// Send calls the target about the page's incident.
func (v *Voice) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	if to.Address == "" {
		return notify.Receipt{}, notify.Permanent(errors.New("twilio: voice: no phone number"))
	}
	if v.c.cfg.From == "" {
		return notify.Receipt{}, notify.ErrOff
	}
	if v.c.cfg.PublicURL == "" {
		return notify.Receipt{}, notify.Permanent(errors.New("twilio: voice: no public URL (ONCALL_PUBLIC_URL) for Twilio to fetch the call's script from"))
	}
	api, ex, err := v.c.api(ctx)
	if err != nil {
		return notify.Receipt{}, err
	}
	params := (&openapi.CreateCallParams{}).SetTo(to.Address).SetFrom(v.c.cfg.From).
		SetUrl(VoiceURL(v.c.cfg.PublicURL, p.IncidentID)).SetMethod("POST").
		SetStatusCallback(v.c.statusCallback()).SetStatusCallbackMethod("POST")
	call, err := api.CreateCall(params)
	if err != nil {
		return notify.Receipt{}, v.c.classify("call", to.Address, ex, err)
	}
	if call.Sid == nil || *call.Sid == "" {
		return notify.Receipt{}, fmt.Errorf("twilio: call to %s: the answer has no call SID", Mask(to.Address))
	}
	return notify.Receipt{Ref: *call.Sid}, nil
}
