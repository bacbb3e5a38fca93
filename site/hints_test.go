package site

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/transport"
)

// onePeer answers the attacker's transport: the site under test is s0.
type onePeer struct {
	key  crdt.PubKey
	name string
}

func (p onePeer) Lookup(key ed25519.PublicKey) (string, bool) {
	if crdt.PubKey(key) == p.key {
		return p.name, true
	}
	return "", false
}

// TestHintFloodBounded: a charter site sends hint frames on a push stream in a tight
// loop. The site answers the stream's version byte, takes hints only within the peer's
// byte budget, then closes the stream and refuses the next one for the penalty. Malformed
// hints are struck against the peer instead, and it is cut off after Strikes of them.
func TestHintFloodBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget peering.BudgetConfig
		frame  func(k int) []byte
	}{
		{"valid hints over the byte budget", peering.BudgetConfig{BytesPerSecond: 16 << 10, BurstBytes: 64 << 10, Penalty: time.Hour},
			func(k int) []byte {
				return peering.EncodeHint(peering.NewMeta(k, [][32]byte{{byte(k), byte(k >> 8), byte(k >> 16)}}))
			}},
		{"malformed hints over the strikes", peering.BudgetConfig{Strikes: 16, Window: time.Hour, Penalty: time.Hour},
			func(k int) []byte { return []byte{peering.HintTag, 9, byte(k)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr, mallory := runTwoSites(t, tc.budget)
			tr, err := transport.New(transport.Config{Name: "s1", Key: mallory.PrivateKey(), BindAddr: "127.0.0.1:0",
				Peers: onePeer{s.signer.Load().Public(), "s0"}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()

			start := time.Now()
			sent, closed := flood(t, ctx, tr, addr, tc.frame, -1)
			elapsed := time.Since(start)
			if !closed {
				t.Fatalf("the site never closed the flooding stream (%d hints sent)", sent)
			}
			in, bad := s.counter.hintsIn.Load(), s.counter.hintErrors.Load()
			t.Logf("%d hints sent in %v; the site took %d, refused %d", sent, elapsed, in, bad)
			if s.counter.refusedFrames.Load() == 0 {
				t.Error("the flood was not counted as refused")
			}
			if tc.budget.Strikes > 0 {
				if in != 0 || bad != uint64(tc.budget.Strikes+1) {
					t.Errorf("took %d hints and refused %d malformed ones, want 0 and Strikes+1 = %d", in, bad, tc.budget.Strikes+1)
				}
			} else {
				size := float64(len(tc.frame(0))) // the smallest of the flood's frames
				if limit := (tc.budget.BurstBytes + tc.budget.BytesPerSecond*elapsed.Seconds()) / size; float64(in) > limit+1 {
					t.Errorf("took %d hints, the budget allows %.0f in %v", in, limit, elapsed)
				}
			}
			// Refused for the penalty: the next stream takes nothing.
			if _, closed := flood(t, ctx, tr, addr, tc.frame, 1); !closed {
				t.Error("a stream during the penalty stayed open")
			}
			if got := s.counter.hintsIn.Load(); got != in {
				t.Errorf("took %d hints during the penalty", got-in)
			}
		})
	}
}

// flood dials s0's push stream as s1, checks the version byte, and writes frames until
// the site closes the stream (closed) or limit frames went (-1: no limit) and the stream
// stayed open until ctx or a short wait ended.
func flood(t *testing.T, ctx context.Context, tr *transport.Transport, addr string, frame func(int) []byte, limit int) (sent int, closed bool) {
	t.Helper()
	c, err := tr.Dial(ctx, addr, "s0", chanPush)
	if err != nil {
		return 0, true // refused at the handshake: closed as well
	}
	defer c.Close()
	var v [1]byte
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(v[:]); err != nil {
		return 0, true
	}
	if v[0] != peering.PushVersionHints {
		t.Fatalf("push stream version byte %d, want %d", v[0], peering.PushVersionHints)
	}
	_ = c.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var b [64]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				return
			}
		}
	}()
	w := bufio.NewWriter(c)
	for ; limit < 0 || sent < limit; sent++ {
		select {
		case <-done:
			return sent, true
		case <-ctx.Done():
			return sent, false
		default:
		}
		if peering.WriteFrame(w, frame(sent)) != nil {
			break
		}
		if sent%32 == 31 && w.Flush() != nil {
			break
		}
	}
	_ = w.Flush()
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-done:
		return sent, true
	case <-wait.Done():
		return sent, false
	}
}

// runTwoSites runs s0 of a charter of two sites, s0 and s1, with budget for its peers,
// and returns it, its address, and s1's key.
func runTwoSites(t *testing.T, budget peering.BudgetConfig) (*Site, string, *crdt.Signer) {
	t.Helper()
	f := newFixture(t)
	admin := crdt.SignerFromSeed(make([]byte, 32))
	mallory := crdt.SignerFromSeed(bytes.Repeat([]byte{7}, 32))
	genesis, err := crdt.NewGenesis(crdt.CharterSpec{Name: "test", Threshold: 1,
		Admins: []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites: []crdt.SiteInfo{{Name: "s0", Key: f.signer.Public(), Region: "r0", Jurisdiction: "EU"},
			{Name: "s1", Key: mallory.Public(), Region: "r1", Jurisdiction: "EU"}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg.Path(f.cfg.Genesis), genesis.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	cfg.Listen = "127.0.0.1:0"
	cfg.Tuning.Budget = budget
	s, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	deadline := time.After(30 * time.Second)
	for !s.serving.Load() {
		select {
		case err := <-done:
			t.Fatalf("site stopped: %v", err)
		case <-deadline:
			t.Fatal("site not serving after 30 s")
		case <-time.After(10 * time.Millisecond):
		}
	}
	ip, port := s.trans.Addr()
	return s, net.JoinHostPort(ip.String(), strconv.Itoa(port)), mallory
}
