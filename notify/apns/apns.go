// Package apns pages iPhones through the Apple Push Notification service
// (github.com/sideshow/apns2, HTTP/2, token authentication with a .p8
// key). It is a push.Provider, and a notify.Channel of its own for the
// APNs devices of a target.
//
// Every page is an alert push (apns-push-type alert, apns-priority 10) to
// the app's bundle ID (APNS_TOPIC) with:
//
//   - title, subtitle and body from push.Text, and the default sound;
//   - category "INCIDENT": the app registers that category with the actions
//     ACK, RESOLVE and ESCALATE, which call the mobile API
//     (api/mobile/README.md);
//   - thread-id and apns-collapse-id "incident-<id>", so a newer page of an
//     incident replaces the older one in Notification Center;
//   - interruption-level "time-sensitive" for a triggered high-urgency
//     incident (it breaks through Focus when the user allowed the app to),
//     "active" otherwise. With Config.Critical it is "critical" with a
//     critical sound instead, which plays even when the phone is muted: that
//     needs Apple's Critical Alerts entitlement in the app, so it is off by
//     default;
//   - the custom keys incident_id (a number), service, state, severity,
//     urgency and url (when the server has a public URL);
//   - apns-expiration now + TTL: a phone that is off longer does not get a
//     stale page.
//
// APNs answers per device: 410 (Unregistered, ExpiredToken) and 400
// BadDeviceToken mark the token unregistered (the engine deletes it); 429
// is a rate limit; 5xx, network failures and an expired provider token are
// temporary; anything else (a bad key, a wrong topic) is permanent.
package apns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/push"
)

// Category is the notification category of a page; the app registers it
// with the actions ACK, RESOLVE and ESCALATE.
const Category = "INCIDENT"

// Defaults of Config.
const (
	DefaultTTL           = time.Hour
	DefaultRateLimitWait = 10 * time.Second
	DefaultSound         = "default"
)

// Config is how to reach APNs (CONTRACT.md §3: APNS_KEY_FILE, APNS_KEY_ID,
// APNS_TEAM_ID, APNS_TOPIC, APNS_URL).
type Config struct {
	KeyFile string // the .p8 signing key from Apple's developer site
	Key     []byte // or the key's PEM itself (instead of KeyFile)
	KeyID   string // the key's ID (10 characters)
	TeamID  string // the Apple developer team ID
	Topic   string // the app's bundle ID
	// URL is the APNs base URL: production by default,
	// https://api.sandbox.push.apple.com for development builds of the app,
	// or a fake's (apnstest).
	URL string

	Critical      bool          // send critical alerts (needs Apple's entitlement); see the package comment
	Sound         string        // the sound's name in the app bundle; DefaultSound when empty
	TTL           time.Duration // how long APNs keeps a page for a phone that is off; DefaultTTL when 0
	RateLimitWait time.Duration // the wait after a 429 (APNs gives none); DefaultRateLimitWait when 0
	// HTTPClient is the client to APNs (it must speak HTTP/2); apns2's own
	// when nil. Tests use the fake's.
	HTTPClient *http.Client
	Now        func() time.Time // for apns-expiration; time.Now when nil
}

// Channel sends pages to iPhones. It is safe for concurrent use.
type Channel struct {
	client *apns2.Client
	cfg    Config
}

var (
	_ notify.Channel = (*Channel)(nil)
	_ push.Provider  = (*Channel)(nil)
)

// New checks cfg, loads the signing key and signs a first provider token
// (so a bad key fails here, at start, not at the first page).
func New(cfg Config) (*Channel, error) {
	if cfg.KeyID == "" || cfg.TeamID == "" || cfg.Topic == "" {
		return nil, errors.New("apns: the key ID, team ID and topic (the app's bundle ID) are all needed")
	}
	pem := cfg.Key
	if len(pem) == 0 {
		var err error
		if pem, err = os.ReadFile(cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("apns: read key: %w", err)
		}
	}
	key, err := token.AuthKeyFromBytes(pem)
	if err != nil {
		return nil, fmt.Errorf("apns: key %s: %w", cfg.KeyFile, err)
	}
	tok := &token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}
	if _, err := tok.Generate(); err != nil {
		return nil, fmt.Errorf("apns: sign a provider token: %w", err)
	}
	client := apns2.NewTokenClient(tok)
	client.Host = apns2.HostProduction
	if cfg.URL != "" {
		client.Host = cfg.URL
	}
	if cfg.HTTPClient != nil {
		client.HTTPClient = cfg.HTTPClient
	}
	if cfg.Sound == "" {
		cfg.Sound = DefaultSound
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.RateLimitWait <= 0 {
		cfg.RateLimitWait = DefaultRateLimitWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Channel{client: client, cfg: cfg}, nil
}

// Send pages the APNs devices of to (others are ignored) and merges the
// outcomes with push.Merge.
func (c *Channel) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	return push.Merge(c.SendDevices(ctx, to, p)...)
}

// maxParallel bounds the requests in flight for one page.
const maxParallel = 8

// SendDevices pages each APNs device of to, concurrently, and returns one
// result per device. A nil Channel is off.
func (c *Channel) SendDevices(ctx context.Context, to notify.Target, p notify.Page) []push.Result {
	var devices []notify.Device
	for _, d := range to.Devices {
		if d.Platform == notify.PlatformAPNs {
			devices = append(devices, d)
		}
	}
	if c == nil {
		return push.Fail(devices, fmt.Errorf("apns: %w", notify.ErrOff))
	}
	results := make([]push.Result, len(devices))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, d := range devices {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = c.send(ctx, d.Token, p)
		}()
	}
	wg.Wait()
	return results
}

func (c *Channel) send(ctx context.Context, deviceToken string, p notify.Page) push.Result {
	r := push.Result{Token: deviceToken}
	res, err := c.client.PushWithContext(ctx, c.notification(deviceToken, p))
	who := "apns device " + push.Redact(deviceToken)
	switch {
	case err != nil:
		// A transport error quotes the request's URL, which ends in the
		// device token: keep the cause, drop the URL (errors reach the
		// log and the timeline).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s %s: %w", ue.Op, c.client.Host, ue.Err)
		}
		r.Err = fmt.Errorf("%s: %w", who, err)
	case res.StatusCode == http.StatusOK:
		r.Receipt.Ref = "apns:" + res.ApnsID
		if res.ApnsID == "" {
			r.Receipt.Ref = "apns:sent"
		}
	case res.StatusCode == http.StatusGone,
		res.StatusCode == http.StatusBadRequest && res.Reason == apns2.ReasonBadDeviceToken:
		r.Unregistered = true
	case res.StatusCode == http.StatusTooManyRequests:
		r.Err = &notify.RateLimitedError{RetryAfter: c.cfg.RateLimitWait, Err: fmt.Errorf("%s: %d %s", who, res.StatusCode, res.Reason)}
	case res.StatusCode >= 500:
		r.Err = fmt.Errorf("%s: %d %s", who, res.StatusCode, res.Reason)
	case res.StatusCode == http.StatusForbidden && res.Reason == apns2.ReasonExpiredProviderToken:
		// Our token is older than APNs accepts (a clock skew): sign a new
		// one for the retry.
		c.client.Token.Lock()
		c.client.Token.IssuedAt = 0
		c.client.Token.Unlock()
		r.Err = fmt.Errorf("%s: %d %s", who, res.StatusCode, res.Reason)
	default:
		r.Err = notify.Permanent(fmt.Errorf("%s: %d %s", who, res.StatusCode, res.Reason))
	}
	return r
}

// notification is the APNs request of a page to one device.
func (c *Channel) notification(deviceToken string, p notify.Page) *apns2.Notification {
	return &apns2.Notification{
		DeviceToken: deviceToken,
		Topic:       c.cfg.Topic,
		CollapseID:  push.CollapseID(p),
		PushType:    apns2.PushTypeAlert,
		Priority:    apns2.PriorityHigh,
		Expiration:  c.cfg.Now().Add(c.cfg.TTL),
		Payload:     c.Payload(p),
	}
}

// Payload is the JSON payload of a page (see the package comment and
// api/mobile/README.md).
type Payload struct {
	APS        APS    `json:"aps"`
	IncidentID int64  `json:"incident_id"`
	Service    string `json:"service"`
	State      string `json:"state"`
	Severity   string `json:"severity,omitempty"`
	Urgency    string `json:"urgency,omitempty"`
	URL        string `json:"url,omitempty"`
}

// APS is the payload's "aps" dictionary.
type APS struct {
	Alert             Alert   `json:"alert"`
	Sound             any     `json:"sound"` // a name, or a CriticalSound
	Category          string  `json:"category"`
	ThreadID          string  `json:"thread-id"`
	InterruptionLevel string  `json:"interruption-level"`
	RelevanceScore    float64 `json:"relevance-score"`
}

// Alert is the text of the notification.
type Alert struct {
	Title    string `json:"title"`
	Subtitle string `json:"subtitle,omitempty"`
	Body     string `json:"body"`
}

// CriticalSound is the sound of a critical alert.
type CriticalSound struct {
	Critical int     `json:"critical"`
	Name     string  `json:"name"`
	Volume   float64 `json:"volume"`
}

// Interruption levels.
const (
	LevelActive        = "active"
	LevelTimeSensitive = "time-sensitive"
	LevelCritical      = "critical"
)

// Payload builds the payload of a page.
func (c *Channel) Payload(p notify.Page) Payload {
	title, subtitle, body := push.Text(p)
	out := Payload{
		APS: APS{
			Alert:             Alert{Title: title, Subtitle: subtitle, Body: body},
			Sound:             c.cfg.Sound,
			Category:          Category,
			ThreadID:          push.CollapseID(p),
			InterruptionLevel: LevelActive,
			RelevanceScore:    0.5,
		},
		IncidentID: p.IncidentID, Service: p.Service, State: p.State, Severity: p.Severity, Urgency: p.Urgency, URL: p.URL,
	}
	if p.State == notify.StateTriggered && p.Urgency != "low" {
		out.APS.RelevanceScore = 1
		out.APS.InterruptionLevel = LevelTimeSensitive
		if c.cfg.Critical {
			out.APS.InterruptionLevel = LevelCritical
			out.APS.Sound = CriticalSound{Critical: 1, Name: c.cfg.Sound, Volume: 1}
		}
	}
	return out
}
