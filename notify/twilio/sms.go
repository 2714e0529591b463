package twilio

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oncall/oncall/notify"
)

// SMS pages by text message. Its receipt is the message SID, which the
// status callbacks name. Replies are read by api/twilio:
//
//	ack 12 | res 12 | esc 12   act on incident #12 (also "a 12", "resolve 12", ...)
//	a | r | e                  act on the latest incident texted to you
//	ack all                    acknowledge every incident texted to you still triggered
type SMS struct{ c *conn }

// NewSMS returns the SMS channel of a Twilio account.
func NewSMS(cfg Config) *SMS { return &SMS{c: newConn(cfg)} }

var _ notify.Channel = (*SMS)(nil)

// Send texts one page (SMSText).
func (s *SMS) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	return s.send(ctx, to, SMSText(p))
}

// SendBundle texts several pages to one number in one message
// (SMSBundleText), for pages that piled up while the number was rate
// limited. Its receipt is the one message's SID, which stands for every
// page in it.
func (s *SMS) SendBundle(ctx context.Context, to notify.Target, pages []notify.Page) (notify.Receipt, error) {
	switch len(pages) {
	case 0:
		return notify.Receipt{}, errors.New("twilio: sms bundle of no pages")
	case 1:
		return s.Send(ctx, to, pages[0])
	}
	return s.send(ctx, to, SMSBundleText(pages))
}

func (s *SMS) send(ctx context.Context, to notify.Target, body string) (notify.Receipt, error) {
	if to.Address == "" {
		return notify.Receipt{}, notify.Permanent(errors.New("twilio: sms: no phone number"))
	}
	if s.c.cfg.From == "" {
		return notify.Receipt{}, notify.ErrOff
	}
	if s.c.cfg.OptedOut != nil {
		out, err := s.c.cfg.OptedOut(ctx, to.Address)
		if err != nil {
			return notify.Receipt{}, fmt.Errorf("twilio: sms to %s: look up opt-out: %w", Mask(to.Address), err)
		}
		if out {
			return notify.Receipt{}, notify.Permanent(fmt.Errorf("twilio: sms to %s: the recipient unsubscribed (replied STOP)", Mask(to.Address)))
		}
	}
	api, ex, err := s.c.api(ctx)
	if err != nil {
		return notify.Receipt{}, err
	}
	params := (&openapi.CreateMessageParams{}).SetTo(to.Address).SetFrom(s.c.cfg.From).SetBody(body)
	if cb := s.c.statusCallback(); cb != "" {
		params.SetStatusCallback(cb)
	}
	msg, err := api.CreateMessage(params)
	if err != nil {
		return notify.Receipt{}, s.c.classify("sms", to.Address, ex, err)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		return notify.Receipt{}, fmt.Errorf("twilio: sms to %s: the answer has no message SID", Mask(to.Address))
	}
	return notify.Receipt{Ref: *msg.Sid}, nil
}

// serviceSeptets bounds a service name in a text.
const serviceSeptets = 30

// SMSText is a page as one GSM-7 segment where it fits, the summary cut
// to make room for the reply codes:
//
//	#12 payments-api: Checkout error rate above 5% - reply "ack 12", "res 12" or "esc 12"
//
// A page about an incident no longer triggered (a notice) shows its state
// instead of the codes.
func SMSText(p notify.Page) string {
	id := strconv.FormatInt(p.IncidentID, 10)
	head := "#" + id + " "
	if svc := truncate(gsmText(p.Service), serviceSeptets); svc != "" {
		head += svc + ": "
	}
	var tail string
	switch p.State {
	case "", notify.StateTriggered:
		tail = ` - reply "ack ` + id + `", "res ` + id + `" or "esc ` + id + `"`
	default:
		state := p.State
		if p.StateBy != "" {
			state += " by " + p.StateBy
		}
		tail = " (" + gsmText(state) + ")"
	}
	summary := gsmText(p.Summary)
	if summary == "" {
		summary = "(no summary)"
	}
	room := max(SegmentSeptets-septets(head)-septets(tail), 12)
	return head + truncate(summary, room) + tail
}

// SMSBundleText is several pages in one text, each summary cut alike to
// keep to one segment where it can:
//
//	3 incidents on payments-api: #12 Checkout errors, #13 Slow DB, #14 Disk full - reply "ack all" or "ack 12"
//
// Pages of several services name theirs per incident; when even the bare
// numbers do not fit, the last are counted ("+4 more").
func SMSBundleText(pages []notify.Page) string {
	first := strconv.FormatInt(pages[0].IncidentID, 10)
	tail := ` - reply "ack all" or "ack ` + first + `"`
	service := pages[0].Service
	for _, p := range pages[1:] {
		if p.Service != service {
			service = ""
			break
		}
	}
	head := strconv.Itoa(len(pages)) + " incidents"
	if svc := truncate(gsmText(service), serviceSeptets); svc != "" {
		head += " on " + svc
	}
	head += ": "

	// Each item is "#12 " (+ "svc: ") + summary, joined by ", ".
	fixed := make([]string, len(pages))
	summaries := make([]string, len(pages))
	room := SegmentSeptets - septets(head) - septets(tail) - 2*(len(pages)-1)
	for i, p := range pages {
		fixed[i] = "#" + strconv.FormatInt(p.IncidentID, 10)
		if service == "" {
			if svc := truncate(gsmText(p.Service), 16); svc != "" {
				fixed[i] += " " + svc + ":"
			}
		}
		summaries[i] = gsmText(p.Summary)
		room -= septets(fixed[i])
	}
	const minSummary = 8 // shorter is noise: show the numbers only
	if room >= len(pages)*(minSummary+1) {
		budgets := share(summaries, room)
		items := make([]string, len(pages))
		for i := range pages {
			items[i] = fixed[i]
			if s := truncate(summaries[i], budgets[i]-1); s != "" && budgets[i] > 1 {
				items[i] += " " + s
			}
		}
		return head + strings.Join(items, ", ") + tail
	}

	// Numbers only, as many as fit.
	ids := make([]string, len(pages))
	for i, p := range pages {
		ids[i] = "#" + strconv.FormatInt(p.IncidentID, 10)
	}
	room = SegmentSeptets - septets(head) - septets(tail)
	shown := len(ids)
	for shown > 1 && septets(strings.Join(ids[:shown], ", "))+moreSeptets(len(ids)-shown) > room {
		shown--
	}
	list := strings.Join(ids[:shown], ", ")
	if rest := len(ids) - shown; rest > 0 {
		list += " +" + strconv.Itoa(rest) + " more"
	}
	return head + list + tail
}

func moreSeptets(n int) int {
	if n == 0 {
		return 0
	}
	return len(" +" + strconv.Itoa(n) + " more")
}

// share divides room septets among texts (each costing its length plus one
// for the space before it): short ones take what they need, the rest split
// what is left evenly.
func share(texts []string, room int) []int {
	out := make([]int, len(texts))
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return septets(texts[order[a]]) < septets(texts[order[b]]) })
	left := room
	for k, i := range order {
		even := left / (len(order) - k)
		need := septets(texts[i]) + 1
		if texts[i] == "" {
			need = 0
		}
		out[i] = min(need, even)
		left -= out[i]
	}
	return out
}
