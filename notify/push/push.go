// Package push pages users on the phones they paired with the mobile app
// (notify.MethodPush). Its Channel splits a target's devices by platform
// and hands each group to its Provider, notify/apns for iPhones and
// notify/fcm for Android phones, then merges what they answered about each
// device. The helpers the providers share live here too: Merge, which turns
// the outcomes of sending one page to several devices into one notify
// result (each provider is also a notify.Channel of its own through it),
// and Text, the words of a page on a lock screen.
//
// The result of a send, for the engine:
//
//   - delivered to at least one phone: a Receipt with a non-empty Ref and a
//     nil error, or an *notify.UnregisteredError (not permanent) when the
//     provider also said some tokens are gone: the engine removes those
//     tokens and counts the send as delivered;
//   - delivered to none: the error says why (a rate limit, a temporary
//     failure, or a permanent one such as no registered phone or every
//     token unregistered), with the unregistered tokens, if any, still to
//     be found with errors.As.
package push

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oncall/oncall/notify"
)

// ErrNoDevices is the permanent failure of paging someone who has no
// registered phone.
var ErrNoDevices = notify.Permanent(errors.New("no registered phone"))

// Provider sends pages to the devices of one platform (notify/apns,
// notify/fcm).
type Provider interface {
	// SendDevices sends p to every device of to.Devices (all of the
	// provider's platform) and returns one Result per device, in order.
	SendDevices(ctx context.Context, to notify.Target, p notify.Page) []Result
}

// Channel sends pages to every registered phone of the target, whatever
// its platform. A nil provider is off: devices of its platform count as
// failed with notify.ErrOff.
type Channel struct {
	apns, fcm Provider
}

var _ notify.Channel = (*Channel)(nil)

// New returns the push channel over the providers of each platform; nil
// for a platform that is off.
func New(apns, fcm Provider) *Channel {
	return &Channel{apns: apns, fcm: fcm}
}

// Send pages every device of to.Devices through its platform's provider,
// the platforms concurrently, and merges the outcomes (see the package
// comment).
func (c *Channel) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	if len(to.Devices) == 0 {
		return notify.Receipt{}, ErrNoDevices
	}
	groups := map[string][]notify.Device{}
	var order []string
	for _, d := range to.Devices {
		if _, ok := groups[d.Platform]; !ok {
			order = append(order, d.Platform)
		}
		groups[d.Platform] = append(groups[d.Platform], d)
	}
	perPlatform := make([][]Result, len(order))
	var wg sync.WaitGroup
	for i, platform := range order {
		devices := groups[platform]
		var provider Provider
		switch platform {
		case notify.PlatformAPNs:
			provider = c.apns
		case notify.PlatformFCM:
			provider = c.fcm
		default:
			perPlatform[i] = Fail(devices, notify.Permanent(fmt.Errorf("unknown push platform %q", platform)))
			continue
		}
		if provider == nil {
			perPlatform[i] = Fail(devices, fmt.Errorf("%s: %w", platform, notify.ErrOff))
			continue
		}
		sub := to
		sub.Devices = devices
		wg.Add(1)
		go func() {
			defer wg.Done()
			perPlatform[i] = provider.SendDevices(ctx, sub, p)
		}()
	}
	wg.Wait()
	var all []Result
	for _, r := range perPlatform {
		all = append(all, r...)
	}
	return Merge(all...)
}

// Fail is the same failure for every device.
func Fail(devices []notify.Device, err error) []Result {
	out := make([]Result, len(devices))
	for i, d := range devices {
		out[i] = Result{Token: d.Token, Err: err}
	}
	return out
}

// Result is the outcome of sending a page to one device: delivered (a
// Receipt with a non-empty Ref), unregistered (the provider said the token
// no longer reaches an app), or failed (Err, classified as notify's
// errors are: rate limited, permanent, else temporary).
type Result struct {
	Token        string
	Receipt      notify.Receipt
	Unregistered bool
	Err          error
}

// Merge combines the outcomes of sending one page to several devices (see
// the package comment): delivered if any was, with the refs of the
// delivered ones joined by spaces; the unregistered tokens of all in one
// *notify.UnregisteredError; and when none was delivered, the failure that
// leaves the most hope: a rate limit (the longest wait asked for), else a
// temporary failure, else a permanent one. No results at all is
// ErrNoDevices.
func Merge(results ...Result) (notify.Receipt, error) {
	if len(results) == 0 {
		return notify.Receipt{}, ErrNoDevices
	}
	var (
		refs, tokens         []string
		limited              error // the rate limit with the longest wait
		wait                 time.Duration
		temporary, permanent []error
	)
	for _, r := range results {
		switch d, ok := notify.RateLimited(r.Err); {
		case r.Receipt.Ref != "":
			refs = append(refs, r.Receipt.Ref)
		case r.Unregistered:
			tokens = append(tokens, r.Token)
		case ok:
			if limited == nil || d > wait {
				limited, wait = r.Err, d
			}
		case r.Err == nil:
			permanent = append(permanent, fmt.Errorf("device %s: not sent", Redact(r.Token)))
		case notify.IsPermanent(r.Err):
			permanent = append(permanent, r.Err)
		default:
			temporary = append(temporary, r.Err)
		}
	}
	var unreg error
	if len(tokens) > 0 {
		unreg = &notify.UnregisteredError{Tokens: tokens}
	}
	switch {
	case len(refs) > 0:
		return notify.Receipt{Ref: strings.Join(refs, " ")}, unreg
	case limited != nil:
		return notify.Receipt{}, join(limited, unreg)
	case len(temporary) > 0:
		return notify.Receipt{}, join(append(temporary, unreg)...)
	default:
		return notify.Receipt{}, notify.Permanent(join(append(permanent, unreg)...))
	}
}

// join is errors.Join without nils, on one line ("; "), keeping Unwrap
// for errors.Is and errors.As.
func join(errs ...error) error {
	var out multiError
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

type multiError []error

func (m multiError) Error() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (m multiError) Unwrap() []error { return m }

// Text is what a page says on a lock screen: a title naming the incident
// and its service, a subtitle with its severity and why this page, and the
// summary as the body (cut to maxBody bytes, on a character boundary, so
// the payload stays under the providers' 4 KiB).
func Text(p notify.Page) (title, subtitle, body string) {
	title = "#" + strconv.FormatInt(p.IncidentID, 10)
	if p.Service != "" {
		title += " " + p.Service
	}
	switch p.State {
	case notify.StateAcknowledged:
		title = "Acknowledged: " + title
	case notify.StateResolved:
		title = "Resolved: " + title
	}
	var sub []string
	if p.Severity != "" {
		sub = append(sub, p.Severity)
	}
	if p.Escalation != "" {
		sub = append(sub, p.Escalation)
	}
	if p.StateBy != "" && p.State != notify.StateTriggered {
		sub = append(sub, "by "+p.StateBy)
	}
	subtitle = strings.Join(sub, " · ")
	body = p.Summary
	if body == "" {
		body = "(no summary)"
	}
	if p.Alerts > 1 {
		body = fmt.Sprintf("%s (%d alerts)", body, p.Alerts)
	}
	return Truncate(title, 200), Truncate(subtitle, 200), Truncate(body, maxBody)
}

// maxBody bounds a page's body in bytes.
const maxBody = 1500

// Truncate cuts s to at most n bytes, on a character boundary, ending it
// with "…" when it was cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// CollapseID groups the notifications of one incident on a phone (APNs
// apns-collapse-id and thread-id, FCM collapse_key): a newer page of the
// incident replaces the older one.
func CollapseID(p notify.Page) string {
	return "incident-" + strconv.FormatInt(p.IncidentID, 10)
}

// Redact shortens a device token for messages and logs: its last six
// characters.
func Redact(token string) string {
	if len(token) <= 6 {
		return "…"
	}
	return "…" + token[len(token)-6:]
}
