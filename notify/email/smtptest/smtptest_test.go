package smtptest_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/email/smtptest"
)

const sample = "From: Oncall <oncall@example.com>\r\n" +
	"To: alice@example.com\r\n" +
	"Subject: =?utf-8?q?caf=C3=A9_is_down?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"caf=C3=A9 is down\r\n" +
	".a line that starts with a dot\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+PGEgaHJlZj0iaHR0cHM6Ly9leC5jb20vP2E9MSZhbXA7Yj0yIj48Yj5BY2s8L2I+\r\n" +
	"IG5vdzwvYT48L3A+\r\n" +
	"--b1--\r\n"

func TestSendMailPlainAuth(t *testing.T) {
	t.Parallel()
	s := smtptest.New(t, smtptest.Options{Username: "u", Password: "p"})
	auth := smtp.PlainAuth("", "u", "p", "127.0.0.1")
	if err := smtp.SendMail(s.Addr(), auth, "oncall@example.com", []string{"alice@example.com", "bob@example.com"}, []byte(sample)); err != nil {
		t.Fatal(err)
	}
	msgs := s.Wait(t, 1)
	m := msgs[0]
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	if m.From != "oncall@example.com" || strings.Join(m.To, ",") != "alice@example.com,bob@example.com" || m.AuthUser != "u" || m.TLS {
		t.Errorf("envelope = %q %q auth %q tls %v", m.From, m.To, m.AuthUser, m.TLS)
	}
	if m.Subject != "café is down" {
		t.Errorf("subject = %q", m.Subject)
	}
	if m.Text != "café is down\n.a line that starts with a dot" {
		t.Errorf("text = %q", m.Text)
	}
	if !strings.Contains(m.HTML, "<b>Ack</b>") {
		t.Errorf("html = %q", m.HTML)
	}
	if len(m.Links) != 1 || m.Links[0].Text != "Ack now" || m.Link("Ack") != "https://ex.com/?a=1&b=2" {
		t.Errorf("links = %+v", m.Links)
	}
	if !strings.HasPrefix(s.URL(), "smtp://u:p@127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := smtptest.New(t, smtptest.Options{Username: "u", Password: "p"})

	err := smtp.SendMail(s.Addr(), smtp.PlainAuth("", "u", "wrong", "127.0.0.1"), "a@example.com", []string{"b@example.com"}, []byte(sample))
	if code(err) != 535 {
		t.Errorf("wrong password: %v; want 535", err)
	}
	err = smtp.SendMail(s.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(sample))
	if code(err) != 530 {
		t.Errorf("no auth: %v; want 530", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages accepted", n)
	}
}

func TestRejectNext(t *testing.T) {
	t.Parallel()
	s := smtptest.New(t, smtptest.Options{})
	s.RejectNext(550, "5.1.1 {rcpt}: no such user")
	s.RejectNextData(451, "4.3.0 try again later")
	send := func() error {
		return smtp.SendMail(s.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(sample))
	}
	err := send()
	var tp *textproto.Error
	if !errors.As(err, &tp) || tp.Code != 550 || tp.Msg != "5.1.1 <b@example.com>: no such user" {
		t.Errorf("first send: %v; want the queued 550", err)
	}
	if err := send(); code(err) != 451 {
		t.Errorf("second send: %v; want the queued 451 after DATA", err)
	}
	if err := send(); err != nil {
		t.Errorf("third send: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages; want only the third", n)
	}
}

func TestRefuseAndStall(t *testing.T) {
	t.Parallel()
	s := smtptest.New(t, smtptest.Options{})
	s.Refuse()
	if err := smtp.SendMail(s.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(sample)); err == nil {
		t.Error("send to a refusing server succeeded")
	}

	s.Stall()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := conn.Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("stalled server: read = %v; want a timeout (no greeting)", err)
	}
	conn.Close()

	s.Serve()
	if err := smtp.SendMail(s.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(sample)); err != nil {
		t.Errorf("after Serve: %v", err)
	}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	s := smtptest.New(t, smtptest.Options{Username: "u", Password: "p", StartTLS: true})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if err := c.StartTLS(s.ClientTLS()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered again inside TLS")
	}
	sendOn(t, c, smtp.PlainAuth("", "u", "p", "127.0.0.1"))
	if m := s.Wait(t, 1)[0]; !m.TLS || m.AuthUser != "u" {
		t.Errorf("tls %v auth %q", m.TLS, m.AuthUser)
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	s := smtptest.New(t, smtptest.Options{ImplicitTLS: true})
	if !strings.HasPrefix(s.URL(), "smtps://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	conn, err := tls.Dial("tcp", s.Addr(), s.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sendOn(t, c, nil)
	if m := s.Wait(t, 1)[0]; !m.TLS || m.Subject != "café is down" {
		t.Errorf("tls %v subject %q", m.TLS, m.Subject)
	}
}

func sendOn(t *testing.T, c *smtp.Client, auth smtp.Auth) {
	t.Helper()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(sample)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

func code(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
