package transport

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// rateLog logs events that a remote party can trigger at will (dropped
// packets, failed handshakes) at most burst times per second, then counts
// the rest and reports the count once the next second begins.
type rateLog struct {
	log   *slog.Logger
	level slog.Level
	burst int

	mu         sync.Mutex
	start      time.Time // of the current one-second window
	n          int       // logged in the window
	suppressed int       // not logged in the window
}

func newRateLog(log *slog.Logger, level slog.Level, burst int) *rateLog {
	return &rateLog{log: log, level: level, burst: burst}
}

func (r *rateLog) Log(msg string, args ...any) {
	ctx := context.Background()
	if !r.log.Enabled(ctx, r.level) {
		return
	}
	now := time.Now()
	r.mu.Lock()
	var suppressed int
	if now.Sub(r.start) >= time.Second {
		suppressed = r.suppressed
		r.start, r.n, r.suppressed = now, 0, 0
	}
	if r.n >= r.burst {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.n++
	r.mu.Unlock()
	if suppressed > 0 {
		r.log.Log(ctx, r.level, "log events suppressed", "count", suppressed)
	}
	r.log.Log(ctx, r.level, msg, args...)
}
