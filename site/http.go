package site

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/netutil"

	"atoll/crdt"
	"atoll/site/web"
)

// routeRead adds what both the local socket and the HTTP server serve: health, the read
// API, and POST /v1/changes, which takes only changes signed elsewhere (submit reads it).
// g decides who may call each route (authz.go): trusted on the socket, the charter's
// identities on the HTTP server.
func (s *Site) routeRead(mux *http.ServeMux, g guard, submit http.HandlerFunc) {
	mux.HandleFunc("GET /healthz", g(resPublic, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	mux.HandleFunc("GET /readyz", g(resPublic, s.handleReady))
	mux.HandleFunc("GET /v1/state", g(resState, s.handleState))
	mux.HandleFunc("GET /v1/view", g(resScoped, s.handleView))
	mux.HandleFunc("GET /v1/events", g(resScoped, s.handleEvents))
	mux.HandleFunc("GET /v1/stream", g(resScoped, s.handleStream))
	if !s.cfg.Observer {
		mux.HandleFunc("POST /v1/changes", g(resSubmit, submit))
	}
	mux.HandleFunc("GET /v1/changes/{id}", g(resFederation, s.handleHas)) // ?wait=10s holds the answer until the change arrives
	s.routeObjects(mux, g)
}

// serveHTTP starts the HTTP server at cfg.HTTP, if set: the read API, the dashboard and
// the metrics, over TLS if a certificate is configured. Nothing it serves signs. Every
// route but health and the dashboard's files needs a charter identity (authn.go, authz.go),
// and HTTPLimits bounds what callers may hold.
func (s *Site) serveHTTP() (io.Closer, error) {
	if s.cfg.HTTP == "" {
		return io.NopCloser(nil), nil
	}
	lim := s.httpLim
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	ln = netutil.LimitListener(ln, lim.MaxConns)
	if s.cfg.HTTPCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.Path(s.cfg.HTTPCert), s.cfg.Path(s.cfg.HTTPKey))
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("http: %w", err)
		}
		// Client certificates are asked for, not required: a caller may prove its key
		// with a token instead. crypto/tls checks the caller holds the certificate's
		// key; authn maps the key to its charter identity.
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
			ClientAuth: tls.RequestClientCert})
	}
	gate := newSubmitGate(lim)
	mux := http.NewServeMux()
	a := newAuthn(s.cfg.Name, s.charter, s.log.With("component", "http"))
	// The guard runs first: a submission's body is read only once its caller is known.
	s.routeRead(mux, a.guard, func(w http.ResponseWriter, r *http.Request) {
		if b, ok := gate.read(w, r, crdt.MaxEnvelopeBytes); ok {
			s.submit(w, b)
		}
	})
	var methods LoginMethods
	if oc := s.cfg.OIDC; oc != nil {
		a.sessions = newSigninStore(oc.MaxSessions)
		l, err := newOIDCLogin(*oc, s.cfg.Path(oc.ClientSecretFile), a)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("http: %w", err)
		}
		l.route(mux)
		methods.OIDC = &OIDCMethod{Issuer: oc.Issuer, Login: "v1/oidc/login"}
	}
	a.routeLogin(mux, a.guard, methods)
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} { // kubeproxy.go
		mux.Handle(m+" "+kubePrefix+"/", a.guard(resKube, s.handleKube))
	}
	mux.Handle("GET /metrics", a.guard(resMetrics, s.metrics.handler().ServeHTTP))
	mux.Handle("GET /", web.Handler()) // the dashboard's static files: public, they hold no data
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: lim.ReadHeaderTimeout.D(),
		ReadTimeout:       lim.BodyTimeout.D(),
		WriteTimeout:      lim.WriteTimeout.D(),
		IdleTimeout:       lim.IdleTimeout.D(),
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelDebug),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http", "err", err)
		}
	}()
	s.log.Info("http serving", "addr", ln.Addr().String(), "tls", s.cfg.HTTPCert != "", "maxConns", lim.MaxConns, "maxStreams", lim.MaxStreams)
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
	behind := s.behindFormat()
	switch {
	case behind != "":
		r.Reason = behind
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

// behindFormat says why this site cannot take part in full when its charter has a
// format level beyond its release, or it holds changes that need one ("" if neither):
// it keeps what it holds and serves reads, and is not ready until upgraded
// (docs/adr/0013-format-levels.md).
func (s *Site) behindFormat() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.rep.Charter().Format(); l > crdt.MaxFormat {
		return fmt.Sprintf("the charter requires format %d; this release implements %d: upgrade this site", l, crdt.MaxFormat)
	}
	if n, why := s.rep.Beyond(); n > 0 {
		return fmt.Sprintf("%d changes need a later release (%v): upgrade this site", n, why)
	}
	return ""
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
	if sc := scopeOf(r); sc != nil {
		evs = scopeEvents(evs, sc)
		w.Header().Set(scopeHeader, scopeName(sc))
	}
	writeJSON(w, http.StatusOK, evs)
}

// handleStream serves GET /v1/stream: server-sent events, one "view" event with the whole
// View whenever it changes (viewLoop computes it once for every stream), and a comment
// every Tuning.ViewBeat otherwise. At most MaxStreams are open at once.
func (s *Site) handleStream(w http.ResponseWriter, r *http.Request) {
	if n := s.streams.Add(1); n > int64(s.httpLim.MaxStreams) {
		s.streams.Add(-1)
		s.counter.refusedStreams.Add(1)
		writeErr(w, http.StatusServiceUnavailable, fmt.Errorf("too many streams open (httpLimits.maxStreams %d); retry later", s.httpLim.MaxStreams))
		return
	}
	defer s.streams.Add(-1)
	rc := http.NewResponseController(w)
	// The request has no body and the stream outlives the server's read timeout; each
	// write gets its own deadline, so a reader that stops reading is dropped.
	_ = rc.SetReadDeadline(time.Time{})
	write := func(parts ...[]byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.httpLim.WriteTimeout.D()))
		for _, p := range parts {
			if _, err := w.Write(p); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Add("Vary", "Accept-Encoding")
	// Gzipped, each event is a segment compressed once for every stream (viewgzip.go).
	ctx, scope := r.Context(), scopeOf(r)
	send := func(f *viewFrame) bool {
		return write(eventView, bytes.TrimSuffix(f.encoded(scope), []byte("\n")), eventEnd)
	}
	keepAlive, start := unchanged, []byte(nil)
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		send = func(f *viewFrame) bool { return write(f.compressed(scope).event) }
		keepAlive, start = unchangedSegment, gzipHeader
	}
	w.WriteHeader(http.StatusOK)
	if !write(start) {
		return
	}
	sub := s.views.subscribe()
	defer s.views.unsubscribe(sub)
	f, err := s.views.current(ctx)
	if err != nil {
		return
	}
	beat := time.NewTicker(s.cfg.Tuning.ViewBeat)
	defer beat.Stop()
	var sent uint64
	for {
		if f != nil && f.seq != sent {
			sent = f.seq
			if !send(f) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sub:
			f = s.views.latest()
		case <-beat.C:
			if !write(keepAlive) {
				return
			}
		}
	}
}

var (
	eventView = []byte("event: view\ndata: ")
	eventEnd  = []byte("\n\n")
	unchanged = []byte(": unchanged\n\n")
)
