package site

import (
	"context"
	"log/slog"
	"strings"
)

// memberlistLog is the handler memberlist's log lines go through (memberlist's Logger
// writes each line at debug level). It counts the lines that record a flap of the
// membership, whatever the site's log level, then passes the line on if the site logs
// at that level: memberlist says what it suspects and declares dead only in its log.
type memberlistLog struct {
	slog.Handler
	c *counters
}

var _ slog.Handler = memberlistLog{}

// Enabled is true: every line is counted before the inner handler decides.
func (memberlistLog) Enabled(context.Context, slog.Level) bool { return true }

func (h memberlistLog) Handle(ctx context.Context, r slog.Record) error {
	h.c.noteMemberlist(r.Message)
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h memberlistLog) WithAttrs(as []slog.Attr) slog.Handler {
	return memberlistLog{h.Handler.WithAttrs(as), h.c}
}

func (h memberlistLog) WithGroup(name string) slog.Handler {
	return memberlistLog{h.Handler.WithGroup(name), h.c}
}

// noteMemberlist counts one memberlist log line (memberlist v0.7 state.go's wording): this
// site suspected a peer its probes found silent, declared a suspect dead, or refuted a
// suspicion or death of itself that another site spread.
func (c *counters) noteMemberlist(msg string) {
	switch {
	case strings.Contains(msg, "memberlist: Suspect ") && strings.Contains(msg, " has failed"):
		c.suspects.Add(1)
	case strings.Contains(msg, "memberlist: Marking ") && strings.Contains(msg, " as failed"):
		c.deaths.Add(1)
	case strings.Contains(msg, "memberlist: Refuting a suspect message"), strings.Contains(msg, "memberlist: Refuting a dead message"):
		c.refutes.Add(1)
	}
}
