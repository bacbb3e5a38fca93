package transport

import (
	"testing"
)

// TestStreamLimits: a peer gets at most LimitPerPeer streams on a channel and
// MaxStreamsPerPeer in all; others still get in up to MaxStreams; a stream
// closed frees its place. Refusals happen in Dial and are counted as Limited.
func TestStreamLimits(t *testing.T) {
	ch := newCharter()
	for i, n := range []string{"a", "b", "c"} {
		ch.add(n, testKey(byte(i+1)))
	}
	a := newSite(t, ch, "a", testKey(1), func(c *Config) { c.MaxStreams, c.MaxStreamsPerPeer = 5, 4 })
	b := newSite(t, ch, "b", testKey(2), nil)
	c := newSite(t, ch, "c", testKey(3), nil)
	hold := func(conn *Conn) { _, _ = conn.Read(make([]byte, 1)) } // until closed
	a.Handle('P', hold)
	a.Handle('S', hold)
	a.LimitPerPeer('P', 2)

	dial := func(from *Transport, channel byte) (*Conn, error) {
		return from.Dial(t.Context(), addrOf(a), "a", channel)
	}
	var open []*Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	mustDial := func(from *Transport, channel byte) {
		t.Helper()
		conn, err := dial(from, channel)
		if err != nil {
			t.Fatalf("dial %q: %v", channel, err)
		}
		open = append(open, conn)
	}
	mustRefuse := func(from *Transport, channel byte, why string) {
		t.Helper()
		if conn, err := dial(from, channel); err == nil {
			conn.Close()
			t.Fatalf("dial %q accepted: %s", channel, why)
		}
	}
	mustDial(b, 'P')
	mustDial(b, 'P')
	mustRefuse(b, 'P', "over the channel's per-peer limit")
	mustDial(b, 'S')
	mustDial(b, 'S')
	mustRefuse(b, 'S', "over MaxStreamsPerPeer")
	mustDial(c, 'S')
	mustRefuse(c, 'S', "over MaxStreams")
	if total, per := a.Stats(); total.Limited != 3 || per["b"].Limited != 2 || per["c"].Limited != 1 {
		t.Fatalf("limited: total %d, b %d, c %d; want 3, 2, 1", total.Limited, per["b"].Limited, per["c"].Limited)
	}
	open[0].Close()
	waitFor(t, "a to see b's push stream closed", func() bool {
		conn, err := dial(b, 'P')
		if err != nil {
			return false
		}
		open = append(open, conn)
		return true
	})
}
