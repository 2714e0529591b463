// Package notify is how a page leaves the building: the Channel interface
// every provider implements (Slack, SMS, voice, email, push, the console),
// the Page they render, and the error kinds that drive the delivery policy
// (retry a temporary failure, wait out a rate limit, fall through to the
// next channel on a permanent one). The policy itself is applied by the
// notify worker in jobs; providers only send and classify their failures.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Methods a notification can go out by. A user's contact methods have the
// types sms, voice and email; slack and push exist for every user; console
// stands in for Slack when it is off (the no-credentials demo).
const (
	MethodSlack        = "slack"         // a DM to the user
	MethodSlackChannel = "slack_channel" // a post in a channel (team channel, channel targets)
	MethodSMS          = "sms"
	MethodVoice        = "voice"
	MethodEmail        = "email"
	MethodPush         = "push"
	MethodConsole      = "console"
)

// Incident states as a page shows them.
const (
	StateTriggered    = "triggered"
	StateAcknowledged = "acknowledged"
	StateResolved     = "resolved"
)

// Page is what a notification says about an incident: enough to act on it
// without opening anything else.
type Page struct {
	IncidentID int64
	Service    string
	Team       string
	Summary    string
	Severity   string // critical | error | warning | info
	Urgency    string // high | low
	State      string // triggered | acknowledged | resolved
	StateBy    string // who acknowledged or resolved it (a user's name or a source)
	CreatedAt  time.Time
	Alerts     int               // alerts grouped in the incident
	Labels     map[string]string // the alert's labels (shown, never interpreted here)
	Details    map[string]any    // custom details
	Links      []Link
	Escalation string // why this page: "step 1 of payments-default", "repeat 2", "final notice"
	URL        string // a link to the incident, when the server has a public URL
	// Key identifies this send (the notification's id). A channel that can
	// stamp its messages with it (Slack: message metadata) does, so that a
	// send repeated after a crash can first look for the one before (Finder).
	Key string
	// Seq is the incident's escalation sequence when the page was
	// rendered. An Escalate button carries it, so that a click Slack
	// delivers twice (to two processes) or two people's clicks at once
	// escalate once.
	Seq int
}

// Link is a link shown with the page.
type Link struct {
	Href string
	Text string
}

// Target is one place a notification goes.
type Target struct {
	User     string // our user's name; "" for a channel post
	FullName string
	Method   string   // one of the Method constants
	Address  string   // Slack user or channel ID, phone number (E.164), email, device token
	Email    string   // the user's email, to find them in Slack when Address is empty
	Devices  []Device // MethodPush: the user's registered phones
}

// Device is a phone registered for push.
type Device struct {
	Platform string // PlatformAPNs or PlatformFCM
	Token    string // the provider's device token
}

// Push platforms.
const (
	PlatformAPNs = "apns"
	PlatformFCM  = "fcm"
)

// UnregisteredError reports device tokens the provider said are no longer
// valid; the engine removes them. It is permanent for those devices only:
// a send that reached another device succeeded.
type UnregisteredError struct {
	Tokens []string
}

func (e *UnregisteredError) Error() string {
	return fmt.Sprintf("%d device token(s) unregistered", len(e.Tokens))
}

// Receipt is what a provider hands back for a sent notification: the
// reference to update it later (a Slack "channel/ts", a Twilio SID).
type Receipt struct {
	Ref string
}

// Channel sends pages by one method.
type Channel interface {
	// Send delivers p to the target. Its error is classified with
	// Permanent and RateLimited; any other error is temporary (retried).
	Send(ctx context.Context, to Target, p Page) (Receipt, error)
}

// Bundler is a channel that can send several pages to one target in one
// message ("3 incidents on payments-api: ..."), which the per-number rate
// limit uses for pages that pile up.
type Bundler interface {
	SendBundle(ctx context.Context, to Target, pages []Page) (Receipt, error)
}

// Finder is a channel that can look for a page it already delivered. A
// send whose outcome was never recorded (the process died while the
// provider was answering) is looked for before it is repeated, so that a
// crash does not page the same person twice.
type Finder interface {
	// Find looks for the page stamped with key sent to the target since
	// since; found is false when there is none.
	Find(ctx context.Context, to Target, key string, since time.Time) (rcpt Receipt, found bool, err error)
}

// Updater is a channel whose sent pages can be changed in place and carry
// a timeline (Slack).
type Updater interface {
	// Update rewrites the message ref (from a Receipt) to show p.
	Update(ctx context.Context, ref string, p Page) error
	// Note adds one timeline line under the message ref (Slack: in its thread).
	Note(ctx context.Context, ref string, text string) error
}

// ErrPermanent marks a failure that retrying will not fix (no such user, a
// number that cannot receive SMS, a channel that is off): the delivery
// policy moves to the next channel at once. Wrap it with Permanent.
var ErrPermanent = errors.New("permanent failure")

// ErrOff is the failure of a channel whose settings are absent.
var ErrOff = fmt.Errorf("%w: channel is off", ErrPermanent)

// Permanent wraps err as a permanent failure.
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// IsPermanent reports whether err is a permanent failure.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// RateLimitedError is a provider asking us to wait before trying again.
type RateLimitedError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.RetryAfter, e.Err)
}
func (e *RateLimitedError) Unwrap() error { return e.Err }

// RateLimited returns the wait a rate-limit error asks for, and whether
// err is one.
func RateLimited(err error) (time.Duration, bool) {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// MaskAddress shows enough of an address to recognise it in a timeline or
// a log, never all of it: +1415•••0100, a•••@example.com.
func MaskAddress(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at > 0 {
		return addr[:1] + "•••" + addr[at:]
	}
	if len(addr) > 8 && addr[0] == '+' {
		return addr[:5] + "•••" + addr[len(addr)-4:]
	}
	if len(addr) > 12 {
		return addr[:4] + "•••" + addr[len(addr)-4:] // a device token
	}
	return addr
}
