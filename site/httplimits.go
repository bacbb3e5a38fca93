package site

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"atoll/crdt"
)

// HTTPLimits bounds what callers of the HTTP server may hold: time, connections, streams
// and submissions. Every bound is on size and time, over all callers together: per
// identity budgets do not exist yet (authn.go identifies callers; submissions are
// admitted only from identities that may write). A zero field means its default
// (DefaultConfig).
type HTTPLimits struct {
	// ReadHeaderTimeout bounds the request line and headers (default 5s).
	ReadHeaderTimeout Duration `json:"readHeaderTimeout,omitempty"`
	// BodyTimeout bounds reading a whole request, headers and body (default 10s); a
	// submission's body gets this long again from when it is admitted (SubmitBytes).
	BodyTimeout Duration `json:"bodyTimeout,omitempty"`
	// WriteTimeout bounds writing one response, and each event of a stream (default 30s):
	// a stream whose reader stops reading is closed after this long.
	WriteTimeout Duration `json:"writeTimeout,omitempty"`
	// IdleTimeout closes a keep-alive connection idle this long between requests
	// (default 60s).
	IdleTimeout Duration `json:"idleTimeout,omitempty"`
	// MaxHeaderBytes bounds the request line and headers, in bytes (default 64 KiB).
	MaxHeaderBytes int `json:"maxHeaderBytes,omitempty"`
	// MaxConns bounds the open connections (default 8192); beyond it new connections
	// wait in the kernel's accept queue.
	MaxConns int `json:"maxConns,omitempty"`
	// MaxStreams bounds the GET /v1/stream clients at once, on the HTTP server and the
	// socket together (default 4096); one more is answered 503.
	MaxStreams int `json:"maxStreams,omitempty"`
	// SubmitBytes bounds the bodies of POST /v1/changes being read at once, in bytes, each
	// counted at its declared length (crdt.MaxEnvelopeBytes when undeclared); default 16 MiB.
	// Memory held by bodies that stall is at most this, however many connections stall.
	SubmitBytes int `json:"submitBytes,omitempty"`
	// SubmitWait is how long a submission waits for room within SubmitBytes before it is
	// answered 503 (default 2s). It does not read its body meanwhile.
	SubmitWait Duration `json:"submitWait,omitempty"`
	// SubmitRate is the submissions admitted per second over all callers, with bursts of
	// SubmitBurst (defaults 100/s and 200); beyond it a submission is answered 429.
	SubmitRate  float64 `json:"submitRate,omitempty"`
	SubmitBurst int     `json:"submitBurst,omitempty"`
}

// validate checks the limits without changing them.
func (l HTTPLimits) validate() error {
	if l.ReadHeaderTimeout < 0 || l.BodyTimeout < 0 || l.WriteTimeout < 0 || l.IdleTimeout < 0 || l.SubmitWait < 0 {
		return errors.New("httpLimits: negative timeout")
	}
	if l.MaxHeaderBytes < 0 || l.MaxConns < 0 || l.MaxStreams < 0 || l.SubmitBytes < 0 || l.SubmitRate < 0 || l.SubmitBurst < 0 {
		return errors.New("httpLimits: negative limit")
	}
	if l.SubmitBytes != 0 && l.SubmitBytes < crdt.MaxEnvelopeBytes {
		return fmt.Errorf("httpLimits: submitBytes %d is below one envelope's %d bytes", l.SubmitBytes, crdt.MaxEnvelopeBytes)
	}
	if l.MaxConns != 0 && l.MaxStreams != 0 && l.MaxStreams >= l.MaxConns {
		return fmt.Errorf("httpLimits: maxStreams %d leaves no connection below maxConns %d", l.MaxStreams, l.MaxConns)
	}
	return nil
}

// submitGate admits submissions on the HTTP server: a rate over all callers, then room
// for the body within a byte budget, then a deadline for the body.
type submitGate struct {
	lim   HTTPLimits // with defaults
	rate  *rate.Limiter
	bytes *semaphore.Weighted
}

func newSubmitGate(l HTTPLimits) *submitGate {
	return &submitGate{lim: l, rate: rate.NewLimiter(rate.Limit(l.SubmitRate), l.SubmitBurst), bytes: semaphore.NewWeighted(int64(l.SubmitBytes))}
}

// errBusy and errTooFast say why a submission was not admitted.
var (
	errBusy    = errors.New("too many submissions being read; retry later")
	errTooFast = errors.New("too many submissions per second; retry later")
)

// read admits r's body and reads it, at most max bytes. It answers the caller itself
// when it returns an error.
func (g *submitGate) read(w http.ResponseWriter, r *http.Request, max int) ([]byte, bool) {
	if !g.rate.Allow() {
		writeErr(w, http.StatusTooManyRequests, errTooFast)
		return nil, false
	}
	if r.ContentLength > int64(max) {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("change: %d bytes declared, at most %d", r.ContentLength, max))
		return nil, false
	}
	weight := int64(max)
	if r.ContentLength >= 0 {
		weight = r.ContentLength
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.lim.SubmitWait.D())
	err := g.bytes.Acquire(ctx, weight)
	cancel()
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, errBusy)
		return nil, false
	}
	defer g.bytes.Release(weight)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.lim.BodyTimeout.D()))
	b, err := readBody(http.MaxBytesReader(w, r.Body, int64(max)), int(weight))
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("change: %w", err))
		return nil, false
	}
	return b, true
}

// readBody reads r to its end in chunks, so that a body that stalls holds about what has
// arrived, and joins them once it is whole. hint is its declared length.
func readBody(r io.Reader, hint int) ([]byte, error) {
	const chunk = 64 << 10
	var parts [][]byte
	total := 0
	for {
		buf := make([]byte, min(chunk, max(hint-total, 512)))
		n, err := io.ReadFull(r, buf)
		parts, total = append(parts, buf[:n]), total+n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, total)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}
