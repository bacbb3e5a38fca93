package site

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"atoll/site/web"
)

// routeRead adds what both the local socket and the HTTP server serve: health, the read
// API, and POST /v1/changes, which takes only changes signed elsewhere.
func (s *Site) routeRead(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /v1/state", s.handleState)
	mux.HandleFunc("GET /v1/view", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.view(r.Context(), time.Now())
		if err != nil {
			return // the client went away
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("GET /v1/events", s.handleEvents)
	mux.HandleFunc("GET /v1/stream", s.handleStream)
	if !s.cfg.Observer {
		mux.HandleFunc("POST /v1/changes", s.handleSubmit)
	}
	mux.HandleFunc("GET /v1/changes/{id}", s.handleHas) // ?wait=10s holds the answer until the change arrives
	s.routeObjects(mux)
}

// serveHTTP starts the HTTP server at cfg.HTTP, if set: the read API, the dashboard and
// the metrics, over TLS if a certificate is configured. Nothing it serves signs.
func (s *Site) serveHTTP() (io.Closer, error) {
	if s.cfg.HTTP == "" {
		return io.NopCloser(nil), nil
	}
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	if s.cfg.HTTPCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.Path(s.cfg.HTTPCert), s.cfg.Path(s.cfg.HTTPKey))
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("http: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	}
	mux := http.NewServeMux()
	s.routeRead(mux)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.Handle("GET /", web.Handler()) // the dashboard
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http", "err", err)
		}
	}()
	s.log.Info("http serving", "addr", ln.Addr().String(), "tls", s.cfg.HTTPCert != "")
	return srv, nil
}

// Readiness answers GET /readyz.
type Readiness struct {
	Ready  bool   `json:"ready"`
	Role   string `json:"role"`
	Reason string `json:"reason,omitempty"`
}

// handleReady: a site is ready once it has joined the membership and serves; a
// follower replica once it knows its leader (it forwards nothing, but stands by).
func (s *Site) handleReady(w http.ResponseWriter, _ *http.Request) {
	r := Readiness{Role: s.role()}
	switch {
	case r.Role == "follower":
		if addr, _ := s.raft.LeaderWithID(); addr != "" {
			r.Ready = true
		} else {
			r.Reason = "no leader known"
		}
	case s.serving.Load():
		r.Ready = true
	default:
		r.Reason = "joining the federation"
	}
	code := http.StatusOK
	if !r.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, r)
}

// handleEvents serves GET /v1/events?after=SEQ: recent events, newest first.
func (s *Site) handleEvents(w http.ResponseWriter, r *http.Request) {
	var after uint64
	if a := r.URL.Query().Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("after %q: not a sequence number", a))
			return
		}
		after = n
	}
	evs, _ := s.events.recent(after)
	writeJSON(w, http.StatusOK, evs)
}

// streamGap is the least time between two views a stream sends; streamBeat is how often
// an unchanged view is checked again (liveness and lag change by themselves).
const (
	streamGap  = 500 * time.Millisecond
	streamBeat = 2 * time.Second
)

// handleStream serves GET /v1/stream: server-sent events, one "view" event with the whole
// View whenever it changes, at most one per streamGap.
func (s *Site) handleStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, errors.New("streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	ctx := r.Context()
	beat := time.NewTicker(streamBeat)
	defer beat.Stop()
	var last []byte
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		evChanged := s.events.changedCh()
		v, err := s.view(ctx, time.Now())
		if err != nil {
			return
		}
		at := v.At
		v.At = time.Time{}
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		if !bytes.Equal(b, last) {
			last = b
			v.At = at
			b, _ = json.Marshal(v)
			if _, err := fmt.Fprintf(w, "event: view\ndata: %s\n\n", b); err != nil {
				return
			}
		} else if _, err := io.WriteString(w, ": unchanged\n\n"); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-ctx.Done():
			return
		case <-arrived:
		case <-evChanged:
		case <-beat.C:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(streamGap):
		}
	}
}
