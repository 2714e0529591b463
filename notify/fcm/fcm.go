// Package fcm pages Android phones through Firebase Cloud Messaging's
// HTTP v1 API (github.com/appleboy/go-fcm over the Firebase Admin SDK),
// authenticated with a service account's JSON key. It is a push.Provider,
// and a notify.Channel of its own for the FCM devices of a target.
//
// Every page is a data message (no "notification" block: the app builds
// the notification itself, with its ack/resolve/escalate actions, in
// FirebaseMessagingService.onMessageReceived) with Android priority "high",
// so it wakes the phone from Doze, a TTL (a phone that is off longer does
// not get a stale page) and the collapse key "incident-<id>". Its data,
// all strings: type ("incident"), incident_id, service, summary, state,
// severity, urgency, title, subtitle, body (push.Text), escalation and url.
// See api/mobile/README.md.
//
// FCM answers per message: UNREGISTERED, and INVALID_ARGUMENT about the
// registration token, mark the token unregistered (the engine deletes it);
// QUOTA_EXCEEDED is a rate limit (Retry-After when FCM gives one);
// UNAVAILABLE, INTERNAL and network failures are temporary; anything else
// (bad credentials, SENDER_ID_MISMATCH, an invalid message) is permanent.
package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	gofcm "github.com/appleboy/go-fcm"
	"golang.org/x/oauth2"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/push"
)

// Defaults of Config.
const (
	DefaultURL           = "https://fcm.googleapis.com"
	DefaultTTL           = time.Hour
	DefaultRateLimitWait = 10 * time.Second
)

// Config is how to reach FCM (CONTRACT.md §3: FCM_CREDENTIALS_FILE,
// FCM_URL).
type Config struct {
	// CredentialsFile is the Firebase project's service account key (JSON,
	// with project_id, client_email, private_key and token_uri).
	CredentialsFile string
	Credentials     []byte // or the JSON itself (instead of CredentialsFile)
	// URL is the FCM base URL (the v1 API is under URL/v1): Google's by
	// default, or a fake's (fcmtest).
	URL string

	TTL           time.Duration // how long FCM keeps a page for a phone that is off; DefaultTTL when 0
	RateLimitWait time.Duration // the wait after QUOTA_EXCEEDED without Retry-After; DefaultRateLimitWait when 0
	HTTPClient    *http.Client  // for FCM and the OAuth token exchange; a 30 s timeout client when nil

	// TokenSource and ProjectID replace the credentials (tests, or a token
	// from elsewhere): with them no service account key is read.
	TokenSource oauth2.TokenSource
	ProjectID   string
}

// Channel sends pages to Android phones. It is safe for concurrent use.
type Channel struct {
	client  *gofcm.Client
	project string
	cfg     Config
}

var (
	_ notify.Channel = (*Channel)(nil)
	_ push.Provider  = (*Channel)(nil)
)

// New reads the credentials and builds the client. It makes no request:
// the OAuth token is fetched with the first page.
func New(cfg Config) (*Channel, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.RateLimitWait <= 0 {
		cfg.RateLimitWait = DefaultRateLimitWait
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	// The HTTP client is always given: go-fcm then makes the OAuth token
	// source from the key itself (the token_uri of the key, through this
	// client) and never falls back to Google's metadata server.
	opts := []gofcm.Option{gofcm.WithEndpoint(cfg.URL + "/v1"), gofcm.WithHTTPClient(cfg.HTTPClient)}
	project := cfg.ProjectID
	if cfg.TokenSource != nil {
		if project == "" {
			return nil, errors.New("fcm: a token source needs a project ID")
		}
		opts = append(opts, gofcm.WithTokenSource(cfg.TokenSource))
	} else {
		creds := cfg.Credentials
		if len(creds) == 0 {
			var err error
			if creds, err = os.ReadFile(cfg.CredentialsFile); err != nil {
				return nil, fmt.Errorf("fcm: read credentials: %w", err)
			}
		}
		var key struct {
			Type        string `json:"type"`
			ProjectID   string `json:"project_id"`
			ClientEmail string `json:"client_email"`
			PrivateKey  string `json:"private_key"`
		}
		if err := json.Unmarshal(creds, &key); err != nil {
			return nil, fmt.Errorf("fcm: credentials %s: %w", cfg.CredentialsFile, err)
		}
		if key.Type != "service_account" || key.ClientEmail == "" || key.PrivateKey == "" {
			return nil, fmt.Errorf("fcm: credentials %s: want a service account key (type service_account, with client_email and private_key)", cfg.CredentialsFile)
		}
		if project == "" {
			project = key.ProjectID
		}
		if project == "" {
			return nil, fmt.Errorf("fcm: credentials %s: no project_id", cfg.CredentialsFile)
		}
		opts = append(opts, gofcm.WithCredentialsJSON(creds))
	}
	opts = append(opts, gofcm.WithProjectID(project))
	client, err := gofcm.NewClient(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	return &Channel{client: client, project: project, cfg: cfg}, nil
}

// ProjectID is the Firebase project pages are sent through.
func (c *Channel) ProjectID() string { return c.project }

// Send pages the FCM devices of to (others are ignored) and merges the
// outcomes with push.Merge.
func (c *Channel) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	return push.Merge(c.SendDevices(ctx, to, p)...)
}

// SendDevices pages each FCM device of to (one request each, concurrently)
// and returns one result per device. A nil Channel is off.
func (c *Channel) SendDevices(ctx context.Context, to notify.Target, p notify.Page) []push.Result {
	var devices []notify.Device
	for _, d := range to.Devices {
		if d.Platform == notify.PlatformFCM {
			devices = append(devices, d)
		}
	}
	if c == nil {
		return push.Fail(devices, fmt.Errorf("fcm: %w", notify.ErrOff))
	}
	if len(devices) == 0 {
		return nil
	}
	msgs := make([]*messaging.Message, len(devices))
	for i, d := range devices {
		msgs[i] = c.Message(d.Token, p)
	}
	resp, err := c.client.Send(ctx, msgs...)
	if err != nil {
		// The batch as a whole (an invalid message): nothing was sent.
		return push.Fail(devices, notify.Permanent(fmt.Errorf("fcm: %w", err)))
	}
	results := make([]push.Result, len(devices))
	for i, d := range devices {
		results[i] = push.Result{Token: d.Token}
		if i >= len(resp.Responses) || resp.Responses[i] == nil {
			results[i].Err = fmt.Errorf("fcm device %s: no response", push.Redact(d.Token))
			continue
		}
		r := resp.Responses[i]
		if r.Success {
			results[i].Receipt.Ref = "fcm:" + messageID(r.MessageID)
			continue
		}
		results[i].Unregistered, results[i].Err = c.classify(d.Token, r.Error)
	}
	return results
}

// classify sorts one message's failure (see the package comment).
func (c *Channel) classify(token string, err error) (unregistered bool, out error) {
	if err == nil {
		err = errors.New("failed without an error")
	}
	msg := fmt.Errorf("fcm device %s: %s", push.Redact(token), oneLine(err.Error()))
	switch {
	case messaging.IsUnregistered(err):
		return true, nil
	case messaging.IsInvalidArgument(err) || errorutils.IsInvalidArgument(err):
		// The same code says the message is bad: only a complaint about
		// the token condemns the token.
		if strings.Contains(strings.ToLower(err.Error()), "registration token") {
			return true, nil
		}
		return false, notify.Permanent(msg)
	case messaging.IsQuotaExceeded(err) || errorutils.IsResourceExhausted(err):
		return false, &notify.RateLimitedError{RetryAfter: c.retryAfter(err), Err: msg}
	case messaging.IsUnavailable(err), messaging.IsInternal(err), errorutils.IsUnavailable(err), errorutils.IsInternal(err),
		errorutils.IsDeadlineExceeded(err), errorutils.IsUnknown(err), errorutils.IsCancelled(err), errorutils.IsAborted(err):
		return false, msg
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false, msg
	default:
		return false, notify.Permanent(msg)
	}
}

// retryAfter is the wait FCM asked for (Retry-After in seconds), or the
// configured default.
func (c *Channel) retryAfter(err error) time.Duration {
	if resp := errorutils.HTTPResponse(err); resp != nil {
		if s, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil && s > 0 {
			return time.Duration(s) * time.Second
		}
	}
	return c.cfg.RateLimitWait
}

// messageID is the last part of a message name
// ("projects/p/messages/0:123" → "0:123").
func messageID(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	if name == "" {
		return "sent"
	}
	return name
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// maxField bounds the long texts of a message in bytes, so the data stays
// under FCM's 4 KiB.
const maxField = 1000

// Message is the FCM message of a page to one device (see the package
// comment).
func (c *Channel) Message(deviceToken string, p notify.Page) *messaging.Message {
	title, subtitle, body := push.Text(p)
	ttl := c.cfg.TTL
	data := map[string]string{
		"type":        "incident",
		"incident_id": strconv.FormatInt(p.IncidentID, 10),
		"service":     p.Service,
		"summary":     push.Truncate(p.Summary, maxField),
		"state":       p.State,
		"severity":    p.Severity,
		"urgency":     p.Urgency,
		"title":       title,
		"subtitle":    subtitle,
		"body":        push.Truncate(body, maxField),
		"escalation":  p.Escalation,
		"url":         p.URL,
	}
	for k, v := range data {
		if v == "" {
			delete(data, k)
		}
	}
	return &messaging.Message{
		Token: deviceToken,
		Data:  data,
		Android: &messaging.AndroidConfig{
			Priority:    "high",
			TTL:         &ttl,
			CollapseKey: push.CollapseID(p),
		},
	}
}
