package transport

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// charter is an in-memory Peers.
type charter struct {
	mu    sync.Mutex
	names map[string]string // string(public key) -> name
}

func newCharter() *charter { return &charter{names: make(map[string]string)} }

func (c *charter) Lookup(key ed25519.PublicKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name, ok := c.names[string(key)]
	return name, ok
}

func (c *charter) add(name string, key ed25519.PrivateKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names[string(key.Public().(ed25519.PublicKey))] = name
}

// testKey returns a deterministic key for seed.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// testLogger logs to the test's output; debug level with ATOLL_TEST_DEBUG=1.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("ATOLL_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// newSite starts a transport for name with key on 127.0.0.1 and shuts it
// down at the end of the test. mut, if not nil, edits the config first.
func newSite(t testing.TB, peers Peers, name string, key ed25519.PrivateKey, mut func(*Config)) *Transport {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.Key = key
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Peers = peers
	cfg.Logger = testLogger(t)
	if mut != nil {
		mut(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := tr.Shutdown(); err != nil {
			t.Errorf("Shutdown(%s): %v", name, err)
		}
	})
	return tr
}

// pair starts sites "a" and "b" that know each other.
func pair(t testing.TB) (a, b *Transport, ch *charter) {
	t.Helper()
	ch = newCharter()
	ch.add("a", testKey(1))
	ch.add("b", testKey(2))
	return newSite(t, ch, "a", testKey(1), nil), newSite(t, ch, "b", testKey(2), nil), ch
}

// addrOf is the "ip:port" of tr.
func addrOf(tr *Transport) string {
	ip, port := tr.Addr()
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

// waitTimeout bounds every wait in these tests; none expects to need it.
const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// recvPacket returns the next packet on tr's PacketCh.
func recvPacket(t testing.TB, tr *Transport) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		return p
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a packet")
		return nil
	}
}

// noPacket fails if tr has a packet ready now.
func noPacket(t testing.TB, tr *Transport) {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		t.Fatalf("unexpected packet %q from %v", p.Buf, p.From)
	default:
	}
}

// refused returns tr's total Refused count.
func refused(tr *Transport) uint64 {
	total, _ := tr.Stats()
	return total.Refused
}

// echo is a Handle handler that writes back what it reads.
func echo(c *Conn) {
	buf := make([]byte, 1024)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// roundTrip writes msg on c and reads it back, with a deadline.
func roundTrip(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(waitTimeout)); err != nil {
		return err
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if string(got) != msg {
		return fmt.Errorf("read %q, want %q", got, msg)
	}
	return c.SetDeadline(time.Time{})
}
