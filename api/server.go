package api

import (
	"context"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Readiness reports whether the service can do its work (database reachable,
// migrations current). A nil error means ready.
type Readiness func(ctx context.Context) error

// Server is the HTTP front door. Register routes on Mux; Handler wraps them
// with the rules every endpoint keeps.
type Server struct {
	Mux      *http.ServeMux
	log      zerolog.Logger
	duration *prometheus.HistogramVec
}

// NewServer builds the mux with /healthz, /readyz and /metrics. reg gathers
// the metrics that /metrics exposes.
func NewServer(log zerolog.Logger, reg *prometheus.Registry, ready Readiness) *Server {
	s := &Server{
		Mux: http.NewServeMux(),
		log: log,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oncall_http_request_duration_seconds",
			Help:    "HTTP request durations by route, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
	}
	reg.MustRegister(s.duration)

	s.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.Mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.Mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.Mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "no such endpoint")
	})
	return s
}

// Handler returns the mux wrapped with the body limit, metrics, access logs
// and panic recovery.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				// The route's pattern, never the path: paths hold
				// integration keys, calendar tokens and device tokens.
				_, route := s.Mux.Handler(r)
				s.log.Error().Str("method", r.Method).Str("route", route).Interface("panic", p).Bytes("stack", debug.Stack()).Msg("handler panicked")
				if !rec.wrote {
					WriteError(rec, http.StatusInternalServerError, "internal error")
				}
			}
			_, route := s.Mux.Handler(r)
			if route == "" || route == "/" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.duration.WithLabelValues(route, r.Method, strconv.Itoa(rec.code)).Observe(elapsed.Seconds())
			s.log.Debug().Str("method", r.Method).Str("route", route).Int("code", rec.code).
				Dur("elapsed", elapsed).Msg("http request")
		}()
		if r.ContentLength > MaxBody {
			WriteError(rec, http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB")
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBody)
		ctx := s.log.WithContext(r.Context())
		s.Mux.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// NewHTTPServer returns an http.Server with timeouts that keep slow or
// malicious clients from holding connections open.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
