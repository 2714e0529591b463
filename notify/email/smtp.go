package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/oncall/oncall/notify"
)

// SMTPError is a reply of the server that refused a step of the session.
// Its message has the recipient's address masked.
type SMTPError struct {
	Stage string // "greeting", "EHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT TO", "DATA"
	Code  int    // the reply code, e.g. 550
	Msg   string
}

func (e *SMTPError) Error() string {
	return fmt.Sprintf("smtp %s: %d %s", e.Stage, e.Code, e.Msg)
}

// Permanent reports whether the reply is a permanent failure (5xx).
func (e *SMTPError) Permanent() bool { return e.Code >= 500 && e.Code < 600 }

// deliver runs one SMTP session that sends data to rcpt. Its errors are
// classified (notify.Permanent for 5xx replies and configuration
// problems), and never carry the password or rcpt in clear.
func (c *Channel) deliver(ctx context.Context, rcpt string, data []byte) (err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.addr, netErr(ctx, err))
	}
	// Every read and write ends by the deadline, and at once when ctx is
	// cancelled before it.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer func() {
		if err != nil {
			err = classify(ctx, err, rcpt)
		}
	}()

	if c.implicitTLS {
		tc := tls.Client(conn, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return stageErr("TLS handshake", err)
		}
		conn = tc
	}
	client, err := smtp.NewClient(conn, c.host)
	if err != nil {
		conn.Close()
		return stageErr("greeting", err)
	}
	defer client.Close()
	if err := client.Hello(c.hello); err != nil {
		return stageErr("EHLO", err)
	}
	if !c.implicitTLS {
		if ok, _ := client.Extension("STARTTLS"); ok {
			if err := client.StartTLS(c.tls); err != nil {
				return stageErr("STARTTLS", err)
			}
		}
	}
	if c.auth {
		if ok, _ := client.Extension("AUTH"); !ok {
			return notify.Permanent(errors.New("smtp AUTH: the server offers no authentication, but SMTP_URL has a user"))
		}
		_, isTLS := client.TLSConnectionState()
		if !isTLS && !isLocal(c.host) {
			return notify.Permanent(errors.New("smtp AUTH: the server offers no TLS; refusing to send the password in clear"))
		}
		if err := client.Auth(smtp.PlainAuth("", c.user, c.pass, c.host)); err != nil {
			return stageErr("AUTH", err)
		}
	}
	if err := client.Mail(c.from.Address); err != nil {
		return stageErr("MAIL FROM", err)
	}
	if err := client.Rcpt(rcpt); err != nil {
		return stageErr("RCPT TO", err)
	}
	w, err := client.Data()
	if err != nil {
		return stageErr("DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return stageErr("DATA", err)
	}
	if err := w.Close(); err != nil { // the server's verdict on the message
		return stageErr("DATA", err)
	}
	// Accepted: the message is the server's now, so a failing QUIT must
	// not make us send it again.
	_ = client.Quit()
	return nil
}

// stageErr names the stage of a failure; a server's reply becomes an
// *SMTPError.
func stageErr(stage string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &SMTPError{Stage: stage, Code: tp.Code, Msg: tp.Msg}
	}
	return fmt.Errorf("smtp %s: %w", stage, err)
}

// classify marks permanent failures and takes rcpt out of the message.
func classify(ctx context.Context, err error, rcpt string) error {
	var se *SMTPError
	if errors.As(err, &se) {
		se.Msg = redact(se.Msg, rcpt)
		if se.Permanent() {
			return notify.Permanent(se)
		}
		return se
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) {
		return notify.Permanent(err) // the server's certificate will not change on a retry
	}
	return netErr(ctx, err)
}

// netErr names the context's reason for a failed read or write: the
// connection's deadline is the context's, so its timeout is the context's
// deadline even when the context has not noticed yet.
func netErr(ctx context.Context, err error) error {
	ctxErr := ctx.Err()
	var ne net.Error
	if ctxErr == nil && errors.As(err, &ne) && ne.Timeout() {
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return err
}

// redact replaces every occurrence of addr (in any case) in s by its mask.
func redact(s, addr string) string {
	if addr == "" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+len(addr) <= len(s) && strings.EqualFold(s[i:i+len(addr)], addr) {
			b.WriteString(Mask(addr))
			i += len(addr)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// isLocal is net/smtp's rule for sending credentials without TLS.
func isLocal(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
