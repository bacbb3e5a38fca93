package transport

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

// set makes name's key key in c, forgetting any other key of name: a rotation
// applied to this side's charter.
func (c *charter) set(name string, key ed25519.PrivateKey) {
	c.mu.Lock()
	for k, n := range c.names {
		if n == name {
			delete(c.names, k)
		}
	}
	c.mu.Unlock()
	c.add(name, key)
}

// TestSetKeyRotation rotates site b's key from 2 to 3 while a learns of it
// later: in between, b reaches a as its previous key; once a applies the
// rotation, it closes the streams of the old key, accepts the new one and
// refuses the old one, to b and to an impostor alike.
func TestSetKeyRotation(t *testing.T) {
	chA, chB := newCharter(), newCharter()
	for _, ch := range []*charter{chA, chB} {
		ch.add("a", testKey(1))
		ch.add("b", testKey(2))
	}
	a := newSite(t, chA, "a", testKey(1), nil)
	b := newSite(t, chB, "b", testKey(2), nil)
	a.Handle('e', echo)
	b.Handle('e', echo)

	before, err := b.Dial(t.Context(), addrOf(a), "a", 'e')
	if err != nil {
		t.Fatalf("dial before the rotation: %v", err)
	}
	if err := roundTrip(before, "before"); err != nil {
		t.Fatal(err)
	}

	// b applies the rotation; a does not know it yet.
	chB.set("b", testKey(3))
	if err := b.SetKey(testKey(3)); err != nil {
		t.Fatal(err)
	}
	if got := b.Key(); !got.Equal(testKey(3).Public()) {
		t.Fatalf("Key() = %x, want the new key", got)
	}
	fallback, err := b.Dial(t.Context(), addrOf(a), "a", 'e')
	if err != nil {
		t.Fatalf("dial from b while a knows only its old key: %v", err)
	}
	if err := roundTrip(fallback, "fallback"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dial(t.Context(), addrOf(b), "b", 'e'); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("a dialing b, which presents a key a does not know yet: err %v, want ErrUnknownPeer", err)
	}

	// a applies it: the streams b opened as its old key are closed.
	chA.set("b", testKey(3))
	waitFor(t, "a to track b's two streams", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.conns["b"]) == 2
	})
	if n := a.Revalidate(); n != 2 {
		t.Fatalf("Revalidate closed %d streams, want the 2 of b's old key", n)
	}
	for name, c := range map[string]*Conn{"before": before, "fallback": fallback} {
		if err := roundTrip(c, "after"); err == nil {
			t.Errorf("stream %q of b's old key still carries data after a applied the rotation", name)
		}
	}
	if n := a.Revalidate(); n != 0 {
		t.Fatalf("second Revalidate closed %d streams, want 0", n)
	}

	// Both ways now authenticate b's new key.
	c, err := a.Dial(t.Context(), addrOf(b), "b", 'e')
	if err != nil {
		t.Fatalf("a dialing b after the rotation: %v", err)
	}
	if !c.Key.Equal(testKey(3).Public()) {
		t.Fatalf("a sees b as %x, want the new key", c.Key)
	}
	if err := roundTrip(c, "new"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = b.Dial(t.Context(), addrOf(a), "a", 'e')
	if err != nil {
		t.Fatalf("b dialing a after the rotation: %v", err)
	}
	if err := roundTrip(c, "new"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := b.WriteTo([]byte("probe"), addrOf(a)); err != nil {
		t.Fatal(err)
	}
	if p := recvPacket(t, a); string(p.Buf) != "probe" {
		t.Fatalf("packet %q, want the probe signed with b's new key", p.Buf)
	}

	// An impostor with b's old key is refused by a.
	old := newSite(t, chB, "b", testKey(2), func(c *Config) { c.Peers = chA })
	refusedBefore := refused(a)
	if c, err := old.Dial(t.Context(), addrOf(a), "a", 'e'); err == nil {
		c.Close()
		t.Fatal("a accepted a stream from b's old key after the rotation")
	}
	waitFor(t, "a to count the refusal", func() bool { return refused(a) > refusedBefore })
}
