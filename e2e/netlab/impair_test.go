package netlab

import (
	"strings"
	"testing"
	"time"
)

func TestImpairDelay(t *testing.T) {
	l := newLab(t, "d", 3)
	startEcho(t, l)
	held := openConn(t, l, 0, 1) // opened before the relay: it must survive the splice
	// Short enough that a first packet's ARP round trip plus its own, both delayed, stay
	// well inside the helpers' 500 ms timeout on a loaded host.
	im := Impairment{Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond}
	if err := l.Impair(im); err != nil {
		t.Fatal(err)
	}
	check(t, l, all(l, none)...) // both protocols, every pair, through the relays
	if n := l.RelayLost(); n != 0 {
		t.Errorf("relay lost %d frames on its own", n)
	}
	// A round trip crosses two relays, each holding the frame at least Delay-Jitter: a
	// lower bound, which no machine's speed can break.
	least := 2 * (im.Delay - im.Jitter)
	for range 5 {
		start := time.Now()
		if got := held.echo(t, "x"); got != "ok" {
			t.Fatalf("held 0->1 through the relay: %s", got)
		}
		rtt := time.Since(start)
		t.Logf("round trip %v", rtt)
		if rtt < least {
			t.Fatalf("round trip %v through relays of %v±%v, want at least %v", rtt, im.Delay, im.Jitter, least)
		}
	}
	if err := l.Cut(0, 2); err != nil { // cuts still apply at the bridge
		t.Fatal(err)
	}
	check(t, l, all(l, func(from, to int) bool { return from+to == 2 && from != to })...)
	if err := l.Impair(Impairment{}); err != nil { // no delay: the relays pass frames at once
		t.Fatal(err)
	}
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	check(t, l, all(l, none)...)
}

func TestImpairLoss(t *testing.T) {
	l := newLab(t, "l", 2)
	startEcho(t, l)
	// All but one packet in ten thousand dropped: every probe times out.
	if err := l.Impair(Impairment{Loss: 0.9999}); err != nil {
		t.Fatal(err)
	}
	check(t, l, all(l, func(int, int) bool { return true })...)
	if err := l.Impair(Impairment{}); err != nil {
		t.Fatal(err)
	}
	check(t, l, all(l, none)...)
}

func TestImpairRejects(t *testing.T) {
	for _, im := range []Impairment{
		{Loss: -0.1}, {Loss: 1},
		{Delay: -time.Millisecond},
		{Delay: 10 * time.Millisecond, Jitter: 20 * time.Millisecond},
		{Delay: 2 * maxDelay},
	} {
		err := im.Validate()
		if err == nil {
			t.Errorf("%+v accepted", im)
			continue
		}
		if !strings.Contains(err.Error(), "want") {
			t.Errorf("%+v: %v does not say what is wanted", im, err)
		}
	}
}
