package email

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oncall/oncall/notify"
)

// view is what the templates show of a page.
type view struct {
	ID                             int64
	Subject                        string
	Headline                       string
	Summary                        string
	Service, Team                  string
	Severity, Urgency, State, By   string
	Alerts                         int
	Opened                         string
	Why                            string
	Labels                         [][2]string
	Details                        [][2]string
	Links                          []notify.Link
	URL                            string
	Ack, Resolve                   string // action links; "" when not offered
	User, ActionsUntil             string
	Triggered, Acknowledged, Ended bool
}

// Limits that keep a hostile alert from making an unreadable email.
const (
	maxSubjectSummary = 150 // runes of the summary in the subject
	maxSummary        = 2000
	maxValue          = 500 // a label's or detail's value
	maxItems          = 50  // labels, details, links
)

func (c *Channel) view(to notify.Target, p notify.Page, now time.Time) view {
	v := view{
		ID: p.IncidentID, Summary: truncate(oneLine(p.Summary), maxSummary),
		Service: oneLine(p.Service), Team: oneLine(p.Team),
		Severity: oneLine(p.Severity), Urgency: oneLine(p.Urgency), State: oneLine(p.State), By: oneLine(p.StateBy),
		Alerts: p.Alerts, Why: oneLine(p.Escalation), URL: p.URL, User: to.User,
		Triggered: p.State == notify.StateTriggered || p.State == "", Acknowledged: p.State == notify.StateAcknowledged,
		Ended: p.State == notify.StateResolved,
	}
	if v.Summary == "" {
		v.Summary = "(no summary)"
	}
	if v.State == "" {
		v.State = notify.StateTriggered
	}
	if !p.CreatedAt.IsZero() {
		v.Opened = p.CreatedAt.UTC().Format("2006-01-02 15:04 MST")
	}
	for _, k := range sortedKeys(p.Labels) {
		v.Labels = append(v.Labels, [2]string{oneLine(k), truncate(oneLine(p.Labels[k]), maxValue)})
	}
	for _, k := range sortedKeys(p.Details) {
		v.Details = append(v.Details, [2]string{oneLine(k), truncate(oneLine(detail(p.Details[k])), maxValue)})
	}
	for _, l := range p.Links {
		if l.Href == "" {
			continue
		}
		text := oneLine(l.Text)
		if text == "" {
			text = l.Href
		}
		v.Links = append(v.Links, notify.Link{Href: oneLine(l.Href), Text: text})
	}
	v.Labels, v.Details, v.Links = first(v.Labels), first(v.Details), first(v.Links)

	prefix := "[oncall] #" + strconv.FormatInt(p.IncidentID, 10) + " "
	if !v.Triggered {
		prefix += "(" + v.State + ") "
	}
	if v.Service != "" {
		prefix += v.Service + ": "
	}
	v.Subject = prefix + truncate(v.Summary, maxSubjectSummary)
	switch {
	case v.Ended:
		v.Headline = fmt.Sprintf("Incident #%d is resolved", p.IncidentID)
	case v.Acknowledged:
		v.Headline = fmt.Sprintf("Incident #%d is acknowledged", p.IncidentID)
	default:
		v.Headline = fmt.Sprintf("Incident #%d needs you", p.IncidentID)
	}
	if v.By != "" && !v.Triggered {
		v.Headline += " by " + v.By
	}

	// Action links: only for a user (an action needs an actor), only when
	// they can still change something, and only with a signer and a
	// public URL to point at.
	if c.signer != nil && c.publicURL != "" && to.User != "" && !v.Ended {
		exp := now.Add(c.ttl)
		if v.Triggered {
			v.Ack = c.actionLink(p.IncidentID, ActionAck, to.User, exp)
		}
		v.Resolve = c.actionLink(p.IncidentID, ActionResolve, to.User, exp)
		if v.Ack != "" || v.Resolve != "" {
			v.ActionsUntil = exp.UTC().Format("2006-01-02 15:04 MST")
		}
	}
	return v
}

// ActPath is where action links point, under the public URL.
const ActPath = "/v1/email/act"

func (c *Channel) actionLink(id int64, action, user string, exp time.Time) string {
	tok, err := c.signer.Sign(Claims{Incident: id, Action: action, User: user, Expires: exp})
	if err != nil {
		return "" // a user name or id the link cannot carry: no link
	}
	return c.publicURL + ActPath + "?t=" + url.QueryEscape(tok)
}

var textBody = texttemplate.Must(texttemplate.New("text").Parse(`{{.Headline}}: {{.Summary}}

{{if .Service}}Service:   {{.Service}}{{if .Team}} (team {{.Team}}){{end}}
{{end}}{{if .Severity}}Severity:  {{.Severity}}
{{end}}{{if .Urgency}}Urgency:   {{.Urgency}}
{{end}}State:     {{.State}}{{if .By}} by {{.By}}{{end}}
Alerts:    {{.Alerts}}
{{if .Opened}}Opened:    {{.Opened}}
{{end}}{{if .Why}}Why you:   {{.Why}}
{{end}}{{if .Labels}}
Labels:
{{range .Labels}}  {{index . 0}} = {{index . 1}}
{{end}}{{end}}{{if .Details}}
Details:
{{range .Details}}  {{index . 0}}: {{index . 1}}
{{end}}{{end}}{{if or .Links .URL}}
Links:
{{if .URL}}  Incident: {{.URL}}
{{end}}{{range .Links}}  {{.Text}}: {{.Href}}
{{end}}{{end}}{{if .Ack}}
Acknowledge: {{.Ack}}
{{end}}{{if .Resolve}}{{if not .Ack}}
{{end}}Resolve:     {{.Resolve}}
{{end}}{{if .ActionsUntil}}
These links act as {{.User}} and work until {{.ActionsUntil}}. Each asks you to confirm before it changes anything.
{{end}}
-- 
oncall: you get this email because a notification rule of yours pages you by email.
`))

var htmlBody = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:16px;background:#f4f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#172b4d">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;margin:0 auto;background:#fff;border-radius:6px;border-top:6px solid {{if .Ended}}#36b37e{{else if .Acknowledged}}#ffab00{{else}}#de350b{{end}}">
<tr><td style="padding:20px 24px">
<p style="margin:0 0 4px;font-size:13px;color:#5e6c84">{{.Headline}}</p>
<h1 style="margin:0 0 16px;font-size:20px;line-height:1.3">{{.Summary}}</h1>
<table role="presentation" cellpadding="0" cellspacing="0" style="font-size:14px;line-height:1.6">
{{if .Service}}<tr><td style="padding-right:16px;color:#5e6c84">Service</td><td>{{.Service}}{{if .Team}} (team {{.Team}}){{end}}</td></tr>{{end}}
{{if .Severity}}<tr><td style="padding-right:16px;color:#5e6c84">Severity</td><td>{{.Severity}}</td></tr>{{end}}
{{if .Urgency}}<tr><td style="padding-right:16px;color:#5e6c84">Urgency</td><td>{{.Urgency}}</td></tr>{{end}}
<tr><td style="padding-right:16px;color:#5e6c84">State</td><td>{{.State}}{{if .By}} by {{.By}}{{end}}</td></tr>
<tr><td style="padding-right:16px;color:#5e6c84">Alerts</td><td>{{.Alerts}}</td></tr>
{{if .Opened}}<tr><td style="padding-right:16px;color:#5e6c84">Opened</td><td>{{.Opened}}</td></tr>{{end}}
{{if .Why}}<tr><td style="padding-right:16px;color:#5e6c84">Why you</td><td>{{.Why}}</td></tr>{{end}}
</table>
{{if or .Ack .Resolve}}<p style="margin:20px 0 8px">
{{if .Ack}}<a href="{{.Ack}}" style="display:inline-block;padding:10px 18px;margin-right:8px;background:#0052cc;color:#fff;text-decoration:none;border-radius:4px;font-weight:600">Acknowledge</a>{{end}}
{{if .Resolve}}<a href="{{.Resolve}}" style="display:inline-block;padding:10px 18px;background:#36b37e;color:#fff;text-decoration:none;border-radius:4px;font-weight:600">Resolve</a>{{end}}
</p>
<p style="margin:0 0 8px;font-size:12px;color:#5e6c84">These links act as {{.User}} and work until {{.ActionsUntil}}. Each asks you to confirm before it changes anything.</p>{{end}}
{{if .Labels}}<h2 style="margin:20px 0 6px;font-size:14px">Labels</h2>
<table role="presentation" cellpadding="0" cellspacing="0" style="font-size:13px;font-family:SFMono-Regular,Consolas,monospace">
{{range .Labels}}<tr><td style="padding-right:12px;color:#5e6c84">{{index . 0}}</td><td>{{index . 1}}</td></tr>
{{end}}</table>{{end}}
{{if .Details}}<h2 style="margin:20px 0 6px;font-size:14px">Details</h2>
<table role="presentation" cellpadding="0" cellspacing="0" style="font-size:13px;font-family:SFMono-Regular,Consolas,monospace">
{{range .Details}}<tr><td style="padding-right:12px;color:#5e6c84">{{index . 0}}</td><td>{{index . 1}}</td></tr>
{{end}}</table>{{end}}
{{if or .Links .URL}}<h2 style="margin:20px 0 6px;font-size:14px">Links</h2>
<ul style="margin:0;padding-left:20px;font-size:14px">
{{if .URL}}<li><a href="{{.URL}}">Incident #{{.ID}}</a></li>{{end}}
{{range .Links}}<li><a href="{{.Href}}">{{.Text}}</a></li>
{{end}}</ul>{{end}}
</td></tr></table>
<p style="max-width:640px;margin:12px auto;font-size:12px;color:#5e6c84">oncall: you get this email because a notification rule of yours pages you by email.</p>
</body></html>
`))

// message is a rendered email, ready for DATA.
type message struct {
	id   string // Message-ID, with its angle brackets
	data []byte
}

// compose renders the page as a multipart/alternative message from from to
// to, with CRLF line ends throughout.
func (c *Channel) compose(from, to *mail.Address, v view, now time.Time) (message, error) {
	var text, html bytes.Buffer
	if err := textBody.Execute(&text, v); err != nil {
		return message{}, fmt.Errorf("render text: %w", err)
	}
	if err := htmlBody.Execute(&html, v); err != nil {
		return message{}, fmt.Errorf("render html: %w", err)
	}

	domain := "oncall.invalid"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	msgID := "<" + strconv.FormatInt(v.ID, 10) + "." + hex.EncodeToString(rnd[:]) + "@" + domain + ">"
	// Every email about one incident names the same (never sent) root
	// message, so mail clients show them as one conversation.
	thread := "<incident-" + strconv.FormatInt(v.ID, 10) + "@" + domain + ">"

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct {
		typ  string
		data []byte
	}{{"text/plain", text.Bytes()}, {"text/html", html.Bytes()}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return message{}, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write(part.data); err != nil {
			return message{}, err
		}
		if err := qp.Close(); err != nil {
			return message{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return message{}, err
	}

	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", v.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", msgID)
	header("References", thread)
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	header("Auto-Submitted", "auto-generated")
	header("X-Auto-Response-Suppress", "All")
	header("X-Oncall-Incident", strconv.FormatInt(v.ID, 10))
	if v.Urgency == "high" && v.Triggered {
		header("Importance", "high")
		header("X-Priority", "1")
	}
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return message{id: msgID, data: b.Bytes()}, nil
}

// oneLine makes s safe for one line (a header, a table cell): control
// characters become spaces, runs of spaces one, and invalid UTF-8 the
// replacement character.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}

// truncate cuts s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func detail(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func first[T any](s []T) []T {
	if len(s) > maxItems {
		return s[:maxItems]
	}
	return s
}
