// Package smtptest is an SMTP server for tests: it listens on 127.0.0.1,
// speaks enough ESMTP for net/smtp and the email channel (EHLO/HELO,
// STARTTLS and implicit TLS with a self-signed certificate, AUTH PLAIN,
// MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT), keeps every message it
// accepts, parsed into its text and HTML parts and links, and fails on
// demand: RejectNext refuses a recipient, RejectNextData a message, Refuse
// closes connections at once and Stall accepts them and says nothing.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options shape a server.
type Options struct {
	// Username and Password, when set, are required (AUTH PLAIN) before
	// MAIL FROM; without them AUTH is not offered.
	Username, Password string
	StartTLS           bool // offer STARTTLS
	ImplicitTLS        bool // TLS from the first byte (smtps)
}

// Server is a running SMTP sink.
type Server struct {
	opts    Options
	ln      net.Listener
	tlsConf *tls.Config
	pool    *x509.CertPool

	mu         sync.Mutex
	msgs       []*Message
	rejectRcpt []reply
	rejectData []reply
	mode       int
	conns      map[net.Conn]struct{}
	closed     bool
	arrived    chan struct{} // closed and replaced when a message arrives
	wg         sync.WaitGroup
}

const (
	modeServe = iota
	modeRefuse
	modeStall
)

type reply struct {
	code int
	msg  string
}

// New starts a server and stops it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server on 127.0.0.1 at a free port.
func Start(opts Options) (*Server, error) {
	cert, pool, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, ln: ln, pool: pool,
		tlsConf: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		conns:   map[net.Conn]struct{}{}, arrived: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the SMTP_URL that reaches the server, with its credentials.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	if s.opts.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if s.opts.Username != "" {
		u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	}
	return u.String()
}

// ClientTLS is a client TLS configuration that trusts the server's
// certificate (issued for 127.0.0.1 and localhost).
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Close stops the server and ends every open connection.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	_ = s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// RejectNext makes the server answer the next RCPT TO with code and msg
// (e.g. 550, "5.1.1 no such user"); "{rcpt}" in msg becomes the
// recipient, as real servers quote it. Calls queue up.
func (s *Server) RejectNext(code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectRcpt = append(s.rejectRcpt, reply{code, msg})
}

// RejectNextData makes the server refuse the next message it receives
// (after the end of DATA) with code and msg. Calls queue up.
func (s *Server) RejectNextData(code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectData = append(s.rejectData, reply{code, msg})
}

// Refuse makes the server close new connections at once, without a
// greeting, until Serve.
func (s *Server) Refuse() { s.setMode(modeRefuse) }

// Stall makes the server accept new connections and never answer, until
// Serve (a hung server, for timeouts).
func (s *Server) Stall() { s.setMode(modeStall) }

// Serve undoes Refuse and Stall for new connections.
func (s *Server) Serve() { s.setMode(modeServe) }

func (s *Server) setMode(m int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.msgs...)
}

// Wait returns the messages once there are at least n, failing the test
// after 10 seconds.
func (s *Server) Wait(tb testing.TB, n int) []*Message {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		msgs, arrived := append([]*Message(nil), s.msgs...), s.arrived
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-arrived:
		case <-timeout:
			tb.Fatalf("smtptest: %d message(s) after 10s, want %d", len(msgs), n)
		}
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		mode := s.mode
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			switch mode {
			case modeRefuse:
				return
			case modeStall:
				for { // until the client or Close ends it
					if _, err := c.Read(make([]byte, 512)); err != nil {
						return
					}
				}
			}
			s.session(c)
		}()
	}
}

// session is the state of one connection.
type session struct {
	s        *Server
	conn     net.Conn
	tp       *textproto.Conn
	tls      bool
	helo     bool
	authUser string
	from     string
	inMail   bool
	rcpts    []string
}

func (s *Server) session(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	ss := &session{s: s, conn: c}
	if s.opts.ImplicitTLS {
		tc := tls.Server(c, s.tlsConf)
		if err := tc.Handshake(); err != nil {
			return
		}
		ss.conn, ss.tls = tc, true
	}
	ss.tp = textproto.NewConn(ss.conn)
	ss.reply(220, "smtptest ESMTP ready")
	for {
		line, err := ss.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !ss.handle(strings.ToUpper(verb), strings.TrimSpace(arg)) {
			return
		}
	}
}

func (ss *session) reply(code int, lines ...string) {
	for i, l := range lines {
		sep := " "
		if i < len(lines)-1 {
			sep = "-"
		}
		_ = ss.tp.PrintfLine("%d%s%s", code, sep, l)
	}
}

func (ss *session) reset() { ss.from, ss.inMail, ss.rcpts = "", false, nil }

// handle answers one command; false ends the session.
func (ss *session) handle(verb, arg string) bool {
	s := ss.s
	switch verb {
	case "EHLO":
		ss.helo = true
		ss.reset()
		lines := []string{"smtptest greets " + arg, "8BITMIME", "SIZE 10485760"}
		if s.opts.StartTLS && !ss.tls {
			lines = append(lines, "STARTTLS")
		}
		if s.opts.Username != "" {
			lines = append(lines, "AUTH PLAIN")
		}
		ss.reply(250, lines...)
	case "HELO":
		ss.helo = true
		ss.reset()
		ss.reply(250, "smtptest")
	case "STARTTLS":
		if !s.opts.StartTLS || ss.tls {
			ss.reply(502, "5.5.1 STARTTLS not available")
			return true
		}
		ss.reply(220, "2.0.0 ready to start TLS")
		tc := tls.Server(ss.conn, s.tlsConf)
		if err := tc.Handshake(); err != nil {
			return false
		}
		ss.conn, ss.tls, ss.helo, ss.authUser = tc, true, false, ""
		ss.reset()
		ss.tp = textproto.NewConn(tc)
	case "AUTH":
		ss.auth(arg)
	case "MAIL":
		addr, ok := path(arg, "FROM:")
		switch {
		case !ok:
			ss.reply(501, "5.5.4 syntax: MAIL FROM:<address>")
		case !ss.helo:
			ss.reply(503, "5.5.1 EHLO first")
		case s.opts.Username != "" && ss.authUser == "":
			ss.reply(530, "5.7.0 authentication required")
		case ss.inMail:
			ss.reply(503, "5.5.1 nested MAIL command")
		default:
			ss.from, ss.inMail = addr, true
			ss.reply(250, "2.1.0 OK")
		}
	case "RCPT":
		addr, ok := path(arg, "TO:")
		switch {
		case !ok:
			ss.reply(501, "5.5.4 syntax: RCPT TO:<address>")
		case !ss.inMail:
			ss.reply(503, "5.5.1 MAIL first")
		default:
			if r, ok := s.pop(&s.rejectRcpt); ok {
				ss.reply(r.code, strings.ReplaceAll(r.msg, "{rcpt}", "<"+addr+">"))
				return true
			}
			ss.rcpts = append(ss.rcpts, addr)
			ss.reply(250, "2.1.5 OK")
		}
	case "DATA":
		if len(ss.rcpts) == 0 {
			ss.reply(503, "5.5.1 RCPT first")
			return true
		}
		ss.reply(354, "end data with <CR><LF>.<CR><LF>")
		raw, err := ss.tp.ReadDotBytes()
		if err != nil {
			return false
		}
		if r, ok := s.pop(&s.rejectData); ok {
			ss.reset()
			ss.reply(r.code, r.msg)
			return true
		}
		m := parse(raw)
		m.From, m.To, m.AuthUser, m.TLS = ss.from, ss.rcpts, ss.authUser, ss.tls
		n := s.add(m)
		ss.reset()
		ss.reply(250, fmt.Sprintf("2.0.0 OK queued as %d", n))
	case "RSET":
		ss.reset()
		ss.reply(250, "2.0.0 OK")
	case "NOOP":
		ss.reply(250, "2.0.0 OK")
	case "VRFY":
		ss.reply(252, "2.5.0 cannot verify")
	case "QUIT":
		ss.reply(221, "2.0.0 bye")
		return false
	default:
		ss.reply(502, "5.5.2 command not recognized")
	}
	return true
}

func (ss *session) auth(arg string) {
	s := ss.s
	mech, initial, _ := strings.Cut(arg, " ")
	switch {
	case s.opts.Username == "":
		ss.reply(502, "5.5.1 AUTH not available")
		return
	case ss.authUser != "":
		ss.reply(503, "5.5.1 already authenticated")
		return
	case !strings.EqualFold(mech, "PLAIN"):
		ss.reply(504, "5.5.4 unrecognized authentication type")
		return
	}
	if initial == "" {
		ss.reply(334, "")
		line, err := ss.tp.ReadLine()
		if err != nil {
			return
		}
		initial = line
	}
	if initial == "*" {
		ss.reply(501, "5.7.0 authentication cancelled")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	if err != nil {
		ss.reply(501, "5.5.2 cannot decode response")
		return
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || string(parts[1]) != s.opts.Username || string(parts[2]) != s.opts.Password {
		ss.reply(535, "5.7.8 authentication credentials invalid")
		return
	}
	ss.authUser = string(parts[1])
	ss.reply(235, "2.7.0 authentication successful")
}

// path reads "FROM:<addr> params" (prefix "FROM:").
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

func (s *Server) pop(q *[]reply) (reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(*q) == 0 {
		return reply{}, false
	}
	r := (*q)[0]
	*q = (*q)[1:]
	return r, true
}

func (s *Server) add(m *Message) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	return len(s.msgs)
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
