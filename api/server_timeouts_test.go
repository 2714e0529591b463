package api_test

import (
	"net/http"
	"testing"

	"github.com/oncall/oncall/api"
)

// Every timeout of the server is set: without ReadHeaderTimeout or
// ReadTimeout a client sending a byte at a time holds a connection (and
// its goroutine) for ever; without IdleTimeout an idle keep-alive does.
func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	s := api.NewHTTPServer(":0", http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Fatalf("timeouts: header %s, read %s, write %s, idle %s; max header %d bytes",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
	if s.ReadHeaderTimeout > s.ReadTimeout {
		t.Errorf("ReadHeaderTimeout %s is longer than ReadTimeout %s", s.ReadHeaderTimeout, s.ReadTimeout)
	}
}
