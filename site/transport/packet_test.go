package transport

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// prefixed returns packetDomain followed by wire, as the reader holds it.
func prefixed(wire []byte) []byte {
	return append([]byte(packetDomain), wire...)
}

func TestSealParseVerify(t *testing.T) {
	key := testKey(1)
	sent := time.UnixMilli(1_767_225_600_123)
	wire := sealPacket(key, sent, []byte("payload"))
	if len(wire) != len("payload")+PacketOverhead {
		t.Fatalf("wire is %d bytes, want %d", len(wire), len("payload")+PacketOverhead)
	}
	p, err := parsePacket(wire, DefaultMaxPacketBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !p.sender.Equal(key.Public()) || !p.sent.Equal(sent) || string(p.payload) != "payload" {
		t.Fatalf("parsed %+v", p)
	}
	if !verifyPacket(prefixed(wire), p) {
		t.Fatal("signature of a sealed packet does not verify")
	}
	// The domain string is part of what is signed.
	if verifyPacket(append([]byte("atoll-packet-v2"), wire...), p) {
		t.Fatal("signature verifies under another domain")
	}
}

// TestPacketGolden pins the wire format: a change to it must be deliberate
// (a new version). ATOLL_UPDATE_GOLDEN=1 rewrites the file.
func TestPacketGolden(t *testing.T) {
	wire := sealPacket(testKey(7), time.UnixMilli(1_767_225_600_000), []byte("atoll"))
	path := filepath.Join("testdata", "packet-v1.hex")
	if os.Getenv("ATOLL_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(hex.EncodeToString(wire)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wire, want) {
		t.Fatalf("packet wire form changed:\n got %x\nwant %x", wire, want)
	}
	p, err := parsePacket(want, DefaultMaxPacketBytes)
	if err != nil || !verifyPacket(prefixed(want), p) {
		t.Fatalf("golden packet does not parse and verify: %v", err)
	}
}

func TestOpenPacketRejects(t *testing.T) {
	now := time.UnixMilli(1_767_225_600_000)
	ch := newCharter()
	ch.add("a", testKey(1))
	ch.add("b", testKey(2))
	tr := newSite(t, ch, "a", testKey(1), func(c *Config) {
		c.Now = func() time.Time { return now }
		c.MaxPacketBytes = 512
	})
	tr.Block("blocked")
	ch.add("blocked", testKey(3))

	good := sealPacket(testKey(2), now, []byte("hi"))
	flip := func(i int) []byte {
		w := bytes.Clone(good)
		w[i] ^= 1
		return w
	}
	cases := []struct {
		name string
		wire []byte
		want error
	}{
		{"short", good[:PacketOverhead-1], errPacketShort},
		{"long", sealPacket(testKey(2), now, make([]byte, 512-PacketOverhead+1)), errPacketLong},
		{"version", flip(0), errPacketVersion},
		{"unknown sender", sealPacket(testKey(9), now, []byte("hi")), errPacketSender},
		{"stale", sealPacket(testKey(2), now.Add(-DefaultPacketWindow-time.Millisecond), []byte("hi")), errPacketStale},
		{"future", sealPacket(testKey(2), now.Add(DefaultPacketWindow+time.Millisecond), []byte("hi")), errPacketStale},
		{"timestamp tampered", flip(headerLen - 1), errPacketSig},
		{"payload tampered", flip(headerLen), errPacketSig},
		{"signature tampered", flip(len(good) - 1), errPacketSig},
		{"blocked", sealPacket(testKey(3), now, []byte("hi")), errPacketBlocked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payload, _, err := tr.openPacket(prefixed(c.wire))
			if !errors.Is(err, c.want) || payload != nil {
				t.Fatalf("openPacket: payload %q, err %v; want %v", payload, err, c.want)
			}
		})
	}
	for _, edge := range []time.Duration{-DefaultPacketWindow, DefaultPacketWindow, 0} {
		payload, peer, err := tr.openPacket(prefixed(sealPacket(testKey(2), now.Add(edge), []byte("hi"))))
		if err != nil || peer != "b" || string(payload) != "hi" {
			t.Errorf("skew %v: payload %q peer %q err %v", edge, payload, peer, err)
		}
	}
}

// TestBadPacketsDroppedOnTheWire sends forged packets from a raw socket.
func TestBadPacketsDroppedOnTheWire(t *testing.T) {
	_, b, _ := pair(t)
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	to, err := net.ResolveUDPAddr("udp", addrOf(b))
	if err != nil {
		t.Fatal(err)
	}
	tampered := sealPacket(testKey(1), time.Now(), []byte("tampered"))
	tampered[headerLen] ^= 0x80
	stale := sealPacket(testKey(1), time.Now().Add(-10*time.Minute), []byte("stale"))
	good := sealPacket(testKey(1), time.Now(), []byte("good"))
	for _, w := range [][]byte{tampered, stale, []byte("junk"), good} {
		if _, err := raw.WriteToUDP(w, to); err != nil {
			t.Fatal(err)
		}
	}
	// Packets are judged in order: once the good one is out, the others
	// were dropped.
	if p := recvPacket(t, b); string(p.Buf) != "good" {
		t.Fatalf("b delivered %q, want only the good packet", p.Buf)
	}
	if got := refused(b); got != 3 {
		t.Errorf("b refused %d packets, want 3", got)
	}
	noPacket(t, b)
}

func TestWriteTooLarge(t *testing.T) {
	a, b, _ := pair(t)
	big := make([]byte, DefaultMaxPacketBytes)
	if _, err := a.WriteToAddress(big, memberlist.Address{Addr: addrOf(b), Name: "b"}); err == nil {
		t.Fatal("WriteToAddress of an oversized packet succeeded")
	}
	if refused(a) != 1 {
		t.Errorf("a refused %d, want 1", refused(a))
	}
}

func FuzzOpenPacket(f *testing.F) {
	now := time.UnixMilli(1_767_225_600_000)
	f.Add(sealPacket(testKey(2), now, []byte("hi")))
	f.Add(sealPacket(testKey(9), now, nil))
	f.Add([]byte{1, 2, 3})
	ch := newCharter()
	ch.add("a", testKey(1))
	ch.add("b", testKey(2))
	tr := newSite(f, ch, "a", testKey(1), func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Logger = nil
	})
	f.Fuzz(func(t *testing.T, wire []byte) {
		payload, peer, err := tr.openPacket(prefixed(wire))
		if err != nil {
			return
		}
		// Anything accepted must be a packet b really signed.
		p, perr := parsePacket(wire, DefaultMaxPacketBytes)
		if perr != nil || peer != "b" || !bytes.Equal(payload, p.payload) || !verifyPacket(prefixed(wire), p) {
			t.Fatalf("accepted %x as from %q: parse err %v", wire, peer, perr)
		}
	})
}
