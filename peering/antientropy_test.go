package peering

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// base is the test clock's origin; at(d) is d after it.
var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// testConfig: a session 500 ms after a head goes missing, 2 s between sessions with one
// peer, 2 at once, and a safety net far enough away not to interfere unless a test asks.
func testConfig() Config {
	return Config{Interval: time.Hour, Grace: 500 * time.Millisecond, MinGap: 2 * time.Second, MaxSessions: 2}
}

// aeHarness drives an AntiEntropy the way site does: this site holds the heads in held
// and changes changes in all.
type aeHarness struct {
	t       *testing.T
	ae      *AntiEntropy
	held    map[[32]byte]bool
	changes int
}

// newAE returns a harness whose safety net last fired at base. The first Next with any
// peer starts a random session at once (no session has run yet), so a throwaway peer
// takes it and leaves.
func newAE(t *testing.T, cfg Config) *aeHarness {
	t.Helper()
	h := &aeHarness{t: t, ae: NewAntiEntropy(cfg, rand.New(rand.NewPCG(1, 2))), held: map[[32]byte]bool{}}
	h.ae.Join("primer")
	h.expect(0, "primer")
	h.ae.Done("primer", true)
	h.ae.Leave("primer")
	return h
}

func (h *aeHarness) has(id [32]byte) bool { return h.held[id] }

func (h *aeHarness) next(d time.Duration) []string {
	got := slices.Clone(h.ae.Next(at(d), h.has, h.changes))
	slices.Sort(got)
	return got
}

// expect calls Next at d and checks which sessions it starts.
func (h *aeHarness) expect(d time.Duration, want ...string) {
	h.t.Helper()
	slices.Sort(want)
	if got := h.next(d); !slices.Equal(got, want) {
		h.t.Fatalf("Next at %v = %q, want %q", d, got, want)
	}
}

// hid returns a head id made of b.
func hid(b byte) [32]byte { return [32]byte{b, b, b} }

func TestAEFirstNextStartsRandomSession(t *testing.T) {
	ae := NewAntiEntropy(testConfig(), rand.New(rand.NewPCG(1, 2)))
	if got := ae.Next(at(0), func([32]byte) bool { return true }, 0); len(got) != 0 {
		t.Fatalf("no peers: Next = %q", got)
	}
	ae.Join("a")
	ae.Join("b")
	got := ae.Next(at(time.Millisecond), func([32]byte) bool { return true }, 0)
	if len(got) != 1 || ae.Running() != 1 {
		t.Fatalf("first Next with peers = %q, %d running; want one safety-net session", got, ae.Running())
	}
}

func TestAEHeldHeadNoSession(t *testing.T) {
	h := newAE(t, testConfig())
	h.held[hid(1)] = true
	h.changes = 10
	h.ae.Advertised("a", NewMeta(10, [][32]byte{hid(1)}))
	for _, d := range []time.Duration{time.Second, 2 * time.Second, time.Minute, 59 * time.Minute} {
		h.expect(d)
	}
}

func TestAELackedHead(t *testing.T) {
	h := newAE(t, testConfig())
	h.held[hid(1)] = true
	h.changes = 10
	h.ae.Advertised("a", NewMeta(10, [][32]byte{hid(1), hid(2)}))
	s := time.Second
	h.expect(s) // head 2 first seen missing
	h.expect(s + 500*time.Millisecond - time.Nanosecond)
	h.expect(s+500*time.Millisecond, "a") // Grace over
	if h.ae.Running() != 1 {
		t.Fatalf("Running = %d, want 1", h.ae.Running())
	}
	started := s + 500*time.Millisecond
	for _, d := range []time.Duration{started, started + time.Second, started + time.Minute} {
		h.expect(d) // not again while running
	}

	// the session succeeds but head 2 is still missing: it brought everything the peer
	// held when it began, so the advertisement is spent (a correct peer never advertises
	// what it does not give); only a new advertisement starts another
	h.ae.Done("a", true)
	if h.ae.Running() != 0 {
		t.Fatalf("Running = %d after Done, want 0", h.ae.Running())
	}
	done := started + time.Minute
	h.expect(done)
	h.expect(done + time.Minute)
	h.ae.Advertised("a", NewMeta(10, [][32]byte{hid(1), hid(2)}))
	done += time.Minute
	h.expect(done) // MinGap since the start is long past, but Grace starts again
	h.expect(done + 500*time.Millisecond - time.Nanosecond)
	h.expect(done+500*time.Millisecond, "a")
	started = done + 500*time.Millisecond

	// a session that ends quickly, with Next ticking through Grace: the next one waits
	// MinGap from the last start
	h.ae.Advertised("a", NewMeta(10, [][32]byte{hid(1), hid(2)})) // while it ran
	h.ae.Done("a", true)
	h.expect(started + 100*time.Millisecond)
	h.expect(started + 2*time.Second - time.Nanosecond)
	h.expect(started+2*time.Second, "a")
	started += 2 * time.Second

	// a failed session is retried after MinGap
	h.ae.Done("a", false)
	h.expect(started + 100*time.Millisecond)
	h.expect(started + 2*time.Second - time.Nanosecond)
	h.expect(started+2*time.Second, "a")
	started += 2 * time.Second

	// the session brought head 2: nothing more
	h.held[hid(2)] = true
	h.ae.Done("a", true)
	for _, d := range []time.Duration{started + 2*time.Second, started + time.Minute} {
		h.expect(d)
	}
}

// TestAEGapClosedWithinGrace: a head that arrives by push within Grace starts no session,
// and a head missing again later gets a fresh Grace.
func TestAEGapClosedWithinGrace(t *testing.T) {
	h := newAE(t, testConfig())
	h.ae.Advertised("a", NewMeta(1, [][32]byte{hid(1)}))
	h.expect(time.Second)
	h.held[hid(1)] = true
	h.changes = 1
	h.expect(time.Second + 600*time.Millisecond)
	h.ae.Advertised("a", NewMeta(2, [][32]byte{hid(2)}))
	h.expect(2 * time.Second)
	h.expect(2*time.Second + 499*time.Millisecond)
	h.expect(2*time.Second+500*time.Millisecond, "a")
}

func TestAEWant(t *testing.T) {
	h := newAE(t, testConfig())
	h.ae.Want("a") // a peer not seen before, no metadata
	h.expect(time.Second, "a")
	h.expect(time.Second + time.Millisecond)
	h.ae.Done("a", true)
	h.expect(time.Second + 100*time.Millisecond)

	h.ae.Want("a")
	h.expect(3*time.Second - time.Nanosecond) // MinGap since the start at 1 s
	h.expect(3*time.Second, "a")

	// wanted while running: the wish survives the session and waits MinGap
	h.ae.Want("a")
	h.expect(4 * time.Second)
	h.ae.Done("a", true)
	h.expect(5*time.Second - time.Nanosecond)
	h.expect(5*time.Second, "a")
	h.ae.Done("a", true)
	h.expect(time.Minute) // the wish was consumed
}

func TestAEChangeCount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		meta    Meta
		session bool
	}{
		{"more changes, no heads", Meta{Changes: 11}, true},
		{"more changes, held heads", Meta{Changes: 11, Heads: [][32]byte{hid(1)}}, true},
		{"fewer changes", Meta{Changes: 9}, false},
		{"equal changes, held heads", Meta{Changes: 10, Heads: [][32]byte{hid(1)}}, false},
		{"More, equal changes", Meta{Changes: 10, Heads: [][32]byte{hid(1)}, More: true}, false},
		{"More, fewer changes", Meta{Changes: 9, Heads: [][32]byte{hid(1)}, More: true}, true},
		{"More, more changes", Meta{Changes: 12, Heads: [][32]byte{hid(1)}, More: true}, true},
		{"fewer changes, a missing head", Meta{Changes: 3, Heads: [][32]byte{hid(9)}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newAE(t, testConfig())
			h.held[hid(1)] = true
			h.changes = 10
			h.ae.Advertised("a", tc.meta)
			h.expect(time.Second)
			h.expect(time.Second + 499*time.Millisecond)
			if tc.session {
				h.expect(time.Second+500*time.Millisecond, "a")
			} else {
				h.expect(time.Second + 500*time.Millisecond)
				h.expect(time.Minute)
			}
		})
	}
}

func TestAEMaxSessions(t *testing.T) {
	h := newAE(t, testConfig())
	for _, p := range []string{"a", "b", "c"} {
		h.ae.Advertised(p, NewMeta(1, [][32]byte{hid(9)}))
	}
	h.expect(time.Second)
	first := h.next(time.Second + 500*time.Millisecond)
	if len(first) != 2 || h.ae.Running() != 2 {
		t.Fatalf("3 lacking peers, MaxSessions 2: Next = %q, Running %d", first, h.ae.Running())
	}
	h.expect(2 * time.Second)
	h.expect(time.Minute) // still capped
	third := slices.DeleteFunc([]string{"a", "b", "c"}, func(p string) bool { return slices.Contains(first, p) })[0]
	h.ae.Done(first[0], true)
	h.expect(time.Minute+time.Second, third)
	if h.ae.Running() != 2 {
		t.Fatalf("Running = %d, want 2", h.ae.Running())
	}
}

// TestAEMaxSessionsRandomOrder: which capped peers go first is the rng's choice, so no peer
// is starved by its name.
func TestAEMaxSessionsRandomOrder(t *testing.T) {
	firsts := map[string]bool{}
	for seed := range uint64(20) {
		ae := NewAntiEntropy(Config{Interval: time.Hour, Grace: time.Millisecond, MinGap: time.Millisecond, MaxSessions: 1}, rand.New(rand.NewPCG(seed, 0)))
		for _, p := range []string{"a", "b", "c"} {
			ae.Advertised(p, NewMeta(1, nil))
		}
		for _, p := range ae.Next(at(0), func([32]byte) bool { return false }, 0) { // the first safety-net session
			ae.Done(p, false)
		}
		got := ae.Next(at(time.Second), func([32]byte) bool { return false }, 0)
		if len(got) != 1 {
			t.Fatalf("seed %d: Next = %q, want one session", seed, got)
		}
		firsts[got[0]] = true
	}
	if len(firsts) < 2 {
		t.Errorf("20 seeds always started %v first", firsts)
	}
}

func TestAEIntervalSafetyNet(t *testing.T) {
	cfg := testConfig()
	cfg.Interval = 10 * time.Second
	h := newAE(t, cfg)
	for _, p := range []string{"a", "b", "c"} {
		h.ae.Join(p)
	}
	h.ae.Advertised("c", NewMeta(0, nil)) // advertises nothing we lack
	var starts []time.Duration
	picked := map[string]int{}
	for d := time.Duration(0); d <= 1000*time.Second; d += 100 * time.Millisecond {
		got := h.next(d)
		if len(got) > 1 {
			t.Fatalf("at %v: %q, want at most one safety-net session", d, got)
		}
		for _, p := range got {
			starts = append(starts, d)
			picked[p]++
			h.ae.Done(p, true)
		}
	}
	if len(starts) != 100 {
		t.Fatalf("%d safety-net sessions in 1000 s with a 10 s interval, want 100: %v", len(starts), starts)
	}
	for i, d := range starts {
		if want := time.Duration(i+1) * 10 * time.Second; d != want {
			t.Fatalf("safety-net session %d at %v, want %v", i, d, want)
		}
	}
	for _, p := range []string{"a", "b", "c"} {
		if picked[p] == 0 {
			t.Errorf("%s never picked by 100 safety-net sessions: %v", p, picked)
		}
	}
}

func TestAESafetyNetRespectsMaxSessions(t *testing.T) {
	cfg := testConfig()
	cfg.Interval = 10 * time.Second
	h := newAE(t, cfg)
	for _, p := range []string{"a", "b", "c"} {
		h.ae.Join(p)
	}
	if got := h.next(10 * time.Second); len(got) != 1 {
		t.Fatalf("at 10 s: %q", got)
	}
	if got := h.next(20 * time.Second); len(got) != 1 {
		t.Fatalf("at 20 s: %q", got)
	}
	h.expect(30 * time.Second) // 2 running, none finished
	h.expect(40 * time.Second)
	if h.ae.Running() != 2 {
		t.Fatalf("Running = %d, want 2", h.ae.Running())
	}
}

func TestAELeaveWhileRunning(t *testing.T) {
	for _, ok := range []bool{true, false} {
		t.Run(fmt.Sprint("ok=", ok), func(t *testing.T) {
			h := newAE(t, testConfig())
			h.ae.Advertised("a", NewMeta(1, [][32]byte{hid(9)}))
			h.expect(time.Second)
			h.expect(2*time.Second, "a")
			h.ae.Leave("a")
			if h.ae.Running() != 1 {
				t.Fatalf("Running = %d after Leave, want the session still counted", h.ae.Running())
			}
			h.expect(3 * time.Second)
			h.ae.Done("a", ok) // must not panic
			if h.ae.Running() != 0 {
				t.Fatalf("Running = %d after Done, want 0", h.ae.Running())
			}
		})
	}
}

// TestAELeaveWhileRunningForgets: Leave keeps a running peer's entry so that Done works,
// but Done never deletes it. The departed peer stays in the scheduler: after Done(false)
// it is wanted and started again after MinGap (site then fails with "peer not live" and
// Done(false) again, every MinGap, for ever), and after Done(true) the safety net keeps
// picking it.
func TestAELeaveWhileRunningForgets(t *testing.T) {
	for _, ok := range []bool{true, false} {
		t.Run(fmt.Sprint("ok=", ok), func(t *testing.T) {
			cfg := testConfig()
			cfg.Interval = 10 * time.Second
			h := newAE(t, cfg)
			h.ae.Advertised("a", NewMeta(1, [][32]byte{hid(9)}))
			h.ae.Join("b")
			h.expect(time.Second)
			h.expect(2*time.Second, "a")
			h.ae.Leave("a")
			h.ae.Done("a", ok)
			for d := 3 * time.Second; d <= 10*time.Minute; d += time.Second {
				for _, p := range h.next(d) {
					if p == "a" {
						t.Fatalf("at %v: session started with a, which left", d)
					}
					h.ae.Done(p, true)
				}
			}
		})
	}
}

func TestAEDonePanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	h := newAE(t, testConfig())
	mustPanic("Done for an unknown peer", func() { h.ae.Done("nobody", true) })
	h.ae.Join("a")
	mustPanic("Done for a peer never started", func() { h.ae.Done("a", false) })
	h.ae.Want("b")
	h.expect(time.Second, "b")
	h.ae.Done("b", true)
	mustPanic("Done twice", func() { h.ae.Done("b", true) })
	if h.ae.Running() != 0 {
		t.Fatalf("Running = %d after the refused Dones, want 0", h.ae.Running())
	}
}

// TestAEFailedRetryOnlyIfMissing: Done documents "A failed session is retried after MinGap
// if the peer still advertises something missing", but Done(false) sets wanted, so the
// peer is retried after MinGap even when nothing is missing (a failed safety-net session,
// or a gap closed by a push meanwhile). A peer that fails every session is redialled every
// MinGap until memberlist declares it dead.
func TestAEFailedRetryOnlyIfMissing(t *testing.T) {
	cfg := testConfig()
	cfg.Interval = 10 * time.Second
	h := newAE(t, cfg)
	h.ae.Join("a")
	h.expect(10*time.Second, "a") // safety net
	h.ae.Done("a", false)
	for d := 11 * time.Second; d < 20*time.Second; d += 100 * time.Millisecond {
		h.expect(d)
	}
}

func TestAEWithDefaults(t *testing.T) {
	got := Config{MinGap: 7 * time.Second}.WithDefaults()
	want := DefaultConfig()
	want.MinGap = 7 * time.Second
	if got != want {
		t.Fatalf("WithDefaults = %+v, want %+v", got, want)
	}
	// a zero config behaves as DefaultConfig: Grace 500 ms
	h := newAE(t, Config{})
	h.ae.Advertised("a", NewMeta(1, nil))
	h.expect(time.Second)
	h.expect(time.Second + want.Grace - time.Nanosecond)
	h.expect(time.Second+want.Grace, "a")
}

// TestAESpentAfterSession: a session that succeeded covers what the peer advertised
// before it began: a stale advertisement that still looks lacking (More, another change
// count) starts no more sessions. One that came while the session ran still counts, and
// so does the next one.
func TestAESpentAfterSession(t *testing.T) {
	h := newAE(t, testConfig())
	h.held[hid(1)] = true
	h.changes = 10
	stale := Meta{Changes: 9, Heads: [][32]byte{hid(1)}, More: true}
	h.ae.Advertised("a", stale)
	h.expect(time.Second)
	h.expect(time.Second+500*time.Millisecond, "a")
	h.ae.Done("a", true)
	h.expect(5 * time.Second)
	h.expect(time.Minute)

	h.ae.Advertised("a", stale) // advertised again: it may hold something new
	h.expect(time.Minute + time.Second)
	h.expect(time.Minute+2*time.Second, "a")
	h.ae.Advertised("a", stale) // while the session runs
	h.ae.Done("a", true)
	h.expect(time.Minute + 3*time.Second)
	h.expect(time.Minute+5*time.Second, "a")
}
