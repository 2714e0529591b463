// Package email is the email channel: a page as a multipart/alternative
// message (plain text and HTML) sent over SMTP, with links to acknowledge
// or resolve the incident. A link carries a signed, expiring capability
// (Signer) naming the incident, the action and the user the email went to;
// api/email serves it, asking the user to confirm before anything changes.
//
// SMTP_URL is smtp://user:pass@host:port (STARTTLS when the server offers
// it; port 587 by default) or smtps://user:pass@host:port (TLS from the
// start; port 465 by default). With a user, AUTH PLAIN is used, and only
// over TLS (or to localhost). Failures are classified for the delivery
// policy: a 5xx reply is permanent (a recipient the server refuses, bad
// credentials), a 4xx reply, a timeout or a lost connection temporary.
// Errors never carry the password or a recipient's full address.
package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
)

// Config is the channel's settings.
type Config struct {
	URL       string  // SMTP_URL: smtp://user:pass@host:port or smtps://...
	From      string  // EMAIL_FROM: "oncall@example.com" or "Oncall <oncall@example.com>"
	PublicURL string  // ONCALL_PUBLIC_URL, where action links point; "" for no links
	Signer    *Signer // signs action links; nil for no links

	LinkTTL time.Duration // how long action links work; DefaultLinkTTL when 0
	Clock   oncall.Clock  // the Date header and link expiry; the system clock when nil
	// TLS is the base TLS configuration (tests set RootCAs); ServerName is
	// the URL's host unless set.
	TLS *tls.Config
	// Hello is the name given in EHLO; the host name, or "localhost".
	Hello string
	// Timeout bounds one send when the context has no deadline (30 s when 0).
	Timeout time.Duration
}

// Channel sends pages by email. It is safe for concurrent use; each send
// is one SMTP session.
type Channel struct {
	implicitTLS bool
	addr, host  string
	user, pass  string
	auth        bool
	from        *mail.Address
	publicURL   string
	signer      *Signer
	ttl         time.Duration
	clock       oncall.Clock
	tls         *tls.Config
	hello       string
	timeout     time.Duration
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg and returns the channel. Its errors never contain the
// URL's password.
func New(cfg Config) (*Channel, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("SMTP URL: not a URL")
	}
	c := &Channel{
		host: u.Hostname(), publicURL: strings.TrimRight(cfg.PublicURL, "/"), signer: cfg.Signer,
		ttl: cfg.LinkTTL, clock: cfg.Clock, hello: cfg.Hello, timeout: cfg.Timeout,
	}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		c.implicitTLS = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("SMTP URL: scheme %q, want smtp or smtps", u.Scheme)
	}
	if c.host == "" {
		return nil, fmt.Errorf("SMTP URL: no host")
	}
	c.addr = net.JoinHostPort(c.host, port)
	if u.User != nil && u.User.Username() != "" {
		c.auth = true
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
	}
	if c.from, err = mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("email sender %q: %w", cfg.From, err)
	}
	if c.ttl <= 0 {
		c.ttl = DefaultLinkTTL
	}
	if c.clock == nil {
		c.clock = oncall.SystemClock{}
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.hello == "" {
		if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, "\r\n ") {
			c.hello = h
		} else {
			c.hello = "localhost"
		}
	}
	if cfg.TLS != nil {
		c.tls = cfg.TLS.Clone()
	} else {
		c.tls = &tls.Config{}
	}
	if c.tls.ServerName == "" {
		c.tls.ServerName = c.host
	}
	if c.tls.MinVersion == 0 {
		c.tls.MinVersion = tls.VersionTLS12
	}
	return c, nil
}

// Send emails the page to to.Address. Receipt.Ref is the Message-ID.
func (c *Channel) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	rcpt, err := mail.ParseAddress(to.Address)
	if err != nil || to.Address == "" || strings.ContainsAny(to.Address, "\r\n") {
		return notify.Receipt{}, notify.Permanent(fmt.Errorf("email to %s: not an email address", Mask(to.Address)))
	}
	if to.FullName != "" && rcpt.Name == "" {
		rcpt.Name = oneLine(to.FullName)
	}
	now := c.clock.Now()
	msg, err := c.compose(c.from, rcpt, c.view(to, p, now), now)
	if err != nil {
		return notify.Receipt{}, err
	}
	if err := c.deliver(ctx, rcpt.Address, msg.data); err != nil {
		return notify.Receipt{}, fmt.Errorf("email to %s: %w", Mask(rcpt.Address), err)
	}
	return notify.Receipt{Ref: msg.id}, nil
}

// Mask shows an email address without giving it away: "a•••@example.com".
func Mask(addr string) string {
	at := strings.LastIndex(addr, "@")
	if at < 0 {
		return "•••"
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" {
		return "•••@" + domain
	}
	r := []rune(local)
	return string(r[0]) + "•••@" + domain
}
