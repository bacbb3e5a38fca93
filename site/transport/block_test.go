package transport

import (
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestBlock(t *testing.T) {
	a, b, _ := pair(t)
	a.Handle('S', echo)
	b.Handle('S', echo)
	toB := memberlist.Address{Addr: addrOf(b), Name: "b"}
	toA := memberlist.Address{Addr: addrOf(a), Name: "a"}

	open, err := b.Dial(t.Context(), addrOf(a), "a", 'S')
	if err != nil {
		t.Fatalf("Dial before Block: %v", err)
	}
	defer open.Close()
	if err := roundTrip(open, "before"); err != nil {
		t.Fatal(err)
	}
	// a learns b's packet address, so WriteTo by address is refused too.
	if _, err := b.WriteToAddress([]byte("hello"), toA); err != nil {
		t.Fatal(err)
	}
	recvPacket(t, a)

	a.Block("b")
	if got := a.Blocked(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("Blocked() = %v", got)
	}

	// The open stream is closed at once.
	if err := open.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := open.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on a stream with a blocked peer: %v, want closed", err)
	}

	// Packets: a refuses to send, and drops what b sends.
	if _, err := a.WriteToAddress([]byte("x"), toB); !errors.Is(err, ErrBlocked) {
		t.Errorf("a writing to b: %v, want ErrBlocked", err)
	}
	if _, err := a.WriteTo([]byte("x"), addrOf(b)); !errors.Is(err, ErrBlocked) {
		t.Errorf("a writing to b's address: %v, want ErrBlocked", err)
	}
	before := refused(a)
	if _, err := b.WriteToAddress([]byte("dropped"), toA); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to drop b's packet", func() bool { return refused(a) > before })
	noPacket(t, a)

	// Streams both ways are refused.
	if _, err := a.Dial(t.Context(), addrOf(b), "b", 'S'); !errors.Is(err, ErrBlocked) {
		t.Errorf("a dialing b: %v, want ErrBlocked", err)
	}
	if _, err := a.DialTimeout(addrOf(b), waitTimeout); !errors.Is(err, ErrBlocked) {
		t.Errorf("a dialing b's address: %v, want ErrBlocked", err)
	}
	if _, err := b.Dial(t.Context(), addrOf(a), "a", 'S'); err == nil {
		t.Error("b dialing a succeeded")
	}
	if _, err := b.DialTimeout(addrOf(a), waitTimeout); err == nil {
		t.Error("b dialing a for memberlist succeeded")
	}
	// 2 writes, 1 packet, 2 dials out, 2 dials in.
	waitFor(t, "a to count 7 refusals for b", func() bool {
		_, per := a.Stats()
		return per["b"].Refused == 7
	})

	a.Unblock()
	if got := a.Blocked(); len(got) != 0 {
		t.Fatalf("Blocked() after Unblock() = %v", got)
	}
	if _, err := b.WriteToAddress([]byte("back"), toA); err != nil {
		t.Fatal(err)
	}
	if p := recvPacket(t, a); string(p.Buf) != "back" {
		t.Errorf("a got %q, want back", p.Buf)
	}
	for _, d := range []struct {
		from, to *Transport
		name     string
	}{{a, b, "b"}, {b, a, "a"}} {
		c, err := d.from.Dial(t.Context(), addrOf(d.to), d.name, 'S')
		if err != nil {
			t.Fatalf("Dial %s after Unblock: %v", d.name, err)
		}
		if err := roundTrip(c, "after"); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

func TestUnblockSome(t *testing.T) {
	a, _, _ := pair(t)
	a.Block("b", "c", "d")
	a.Unblock("c")
	if got := a.Blocked(); !slices.Equal(got, []string{"b", "d"}) {
		t.Fatalf("Blocked() = %v, want [b d]", got)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
