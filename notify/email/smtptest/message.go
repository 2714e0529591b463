package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
)

// Message is one message the server accepted.
type Message struct {
	From     string   // MAIL FROM
	To       []string // RCPT TO, in order
	AuthUser string   // who authenticated ("" when nobody did)
	TLS      bool     // whether the session was encrypted
	Raw      []byte   // the message as received (CRLF line ends, dots unstuffed)

	Header  mail.Header
	Subject string // decoded
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	Links   []Link // the <a href> links of the HTML part, in order
	Err     error  // why the message could not be parsed, if it could not
}

// Link is a link of the HTML part.
type Link struct {
	Text string // its text, tags removed and entities decoded
	Href string // entities decoded
}

// Link returns the href of the first link whose text contains text, or "".
func (m *Message) Link(text string) string {
	for _, l := range m.Links {
		if strings.Contains(l.Text, text) {
			return l.Href
		}
	}
	return ""
}

func parse(raw []byte) *Message {
	m := &Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Err = err
		return m
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.Err = fmt.Errorf("subject: %w", err)
	}
	if err := m.part(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil && m.Err == nil {
		m.Err = err
	}
	m.Links = links(m.HTML)
	return m
}

// part reads one MIME entity into m, descending into multiparts.
func (m *Message) part(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	typ, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(typ, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable itself
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := m.part(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s body: %w", typ, err)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	switch typ {
	case "text/plain":
		if m.Text == "" {
			m.Text = text
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = text
		}
	}
	return nil
}

var (
	anchorRE = regexp.MustCompile(`(?is)<a\s[^>]*?href\s*=\s*"([^"]*)"[^>]*>(.*?)</a>`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
)

func links(h string) []Link {
	var out []Link
	for _, m := range anchorRE.FindAllStringSubmatch(h, -1) {
		text := strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(m[2], ""))), " ")
		out = append(out, Link{Text: text, Href: html.UnescapeString(m[1])})
	}
	return out
}
