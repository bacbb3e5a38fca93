package transport

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// ownGoroutines returns the stacks of goroutines running this package's
// code, other than the test's own.
func ownGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var own []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "site/transport.(*") && !strings.Contains(g, "site/transport.Test") {
			own = append(own, g)
		}
	}
	return own
}

// TestShutdownLeavesNoGoroutine leaves every kind of goroutine busy, then
// shuts down: a handler blocked reading, a memberlist stream never taken
// from StreamCh, a packet never taken from PacketCh, a silent connection
// mid-handshake.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	ch := newCharter()
	ch.add("a", testKey(1))
	ch.add("b", testKey(2))
	cfg := func(name string, seed byte) Config {
		c := DefaultConfig()
		c.Name, c.Key, c.BindAddr, c.Peers, c.Logger = name, testKey(seed), "127.0.0.1:0", ch, testLogger(t)
		return c
	}
	a, err := New(cfg("a", 1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg("b", 2))
	if err != nil {
		t.Fatal(err)
	}
	// Accepted before the dial below, so mid-handshake at Shutdown, which
	// must not wait HandshakeTimeout for it.
	silent, err := net.Dial("tcp", addrOf(b))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	inHandler := make(chan struct{})
	b.Handle('S', func(c *Conn) {
		close(inHandler)
		_, _ = c.Read(make([]byte, 1)) // until Shutdown closes c
	})
	c, err := a.Dial(t.Context(), addrOf(b), "b", 'S')
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-inHandler
	if _, err := a.DialAddressTimeout(memberlist.Address{Addr: addrOf(b), Name: "b"}, waitTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteToAddress([]byte("never read"), memberlist.Address{Addr: addrOf(b), Name: "b"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to take the packet", func() bool { total, _ := b.Stats(); return total.Packets == 1 })

	start := time.Now()
	for _, tr := range []*Transport{b, a} {
		if err := tr.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d >= DefaultHandshakeTimeout {
		t.Errorf("Shutdown took %v: it waited for the silent handshake", d)
	}
	if own := ownGoroutines(); len(own) > 0 {
		t.Fatalf("goroutines left after Shutdown:\n%s", strings.Join(own, "\n\n"))
	}
	waitFor(t, "the goroutine count to settle", func() bool { return runtime.NumGoroutine() <= before })

	// Calls after Shutdown fail cleanly.
	if _, err := a.Dial(t.Context(), addrOf(b), "b", 'S'); err == nil {
		t.Error("Dial after Shutdown succeeded")
	}
	if _, err := a.WriteTo([]byte("x"), addrOf(b)); err == nil {
		t.Error("WriteTo after Shutdown succeeded")
	}
	if err := a.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}
