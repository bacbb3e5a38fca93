package peering

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestHintRoundTrip: a hint frame carries a Meta exactly, through WriteFrame and
// ReadFrame, at every head count, and is typed as a hint.
func TestHintRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, MaxMetaHeads, MaxMetaHeads + 3} {
		m := NewMeta(n*1000+7, testHeads(n))
		var buf bytes.Buffer
		if err := WriteFrame(&buf, EncodeHint(m)); err != nil {
			t.Fatal(err)
		}
		b, err := ReadFrame(bufio.NewReader(&buf), MaxHintBytes)
		if err != nil {
			t.Fatalf("%d heads: %v", n, err)
		}
		if !IsHint(b) {
			t.Fatalf("%d heads: frame % x not typed as a hint", n, b[:4])
		}
		got, err := DecodeHint(b)
		if err != nil {
			t.Fatalf("%d heads: %v", n, err)
		}
		if got.Changes != m.Changes || got.More != m.More || len(got.Heads) != len(m.Heads) {
			t.Fatalf("%d heads: got %+v, want %+v", n, got, m)
		}
		for i := range got.Heads {
			if got.Heads[i] != m.Heads[i] {
				t.Fatalf("%d heads: head %d differs", n, i)
			}
		}
	}
}

// TestHintLargest: the largest Meta fits MaxHintBytes exactly, so the receiver's size
// check refuses nothing a correct site sends.
func TestHintLargest(t *testing.T) {
	m := NewMeta(0, testHeads(MaxMetaHeads+1))
	m.Changes = ^uint64(0)
	if got := len(EncodeHint(m)); got != MaxHintBytes {
		t.Fatalf("largest hint %d bytes, MaxHintBytes %d", got, MaxHintBytes)
	}
	if _, err := DecodeHint(EncodeHint(m)); err != nil {
		t.Fatal(err)
	}
}

// TestHintRefused: what DecodeHint refuses, each with an error and no panic.
func TestHintRefused(t *testing.T) {
	good := EncodeHint(NewMeta(3, testHeads(2)))
	for name, b := range map[string][]byte{
		"empty":         {},
		"envelope":      append([]byte{0x81, 0x01}, good[1:]...), // starts with a header length
		"tag only":      {HintTag},
		"bad version":   append([]byte{HintTag, 9}, good[2:]...),
		"truncated":     good[:len(good)-1],
		"trailing byte": append(bytes.Clone(good), 0),
		"oversized":     append(bytes.Clone(good), make([]byte, MaxHintBytes)...),
	} {
		if _, err := DecodeHint(b); err == nil {
			t.Errorf("%s: accepted % x", name, b)
		}
	}
	big := make([]byte, MaxHintBytes+1)
	if _, err := DecodeHint(big); !errors.Is(err, ErrHintTooLarge) {
		t.Errorf("oversized frame: %v, want ErrHintTooLarge", err)
	}
}

// TestPacer: at most one hint per Interval, and a change during the wait is owed, not lost.
func TestPacer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Pacer{Interval: 100 * time.Millisecond}
	if ok, wait := p.Due(t0); ok || wait != 0 {
		t.Fatalf("nothing owed: Due %v %v", ok, wait)
	}
	p.Want()
	if ok, _ := p.Due(t0); !ok {
		t.Fatal("first hint not due at once")
	}
	p.Sent(t0)
	p.Want()
	p.Want() // coalesced: one hint owed
	if ok, wait := p.Due(t0.Add(30 * time.Millisecond)); ok || wait != 70*time.Millisecond {
		t.Fatalf("30 ms after a hint: Due %v %v, want false 70ms", ok, wait)
	}
	if ok, _ := p.Due(t0.Add(100 * time.Millisecond)); !ok || !p.Owed() {
		t.Fatal("the owed hint not due after Interval")
	}
	p.Sent(t0.Add(100 * time.Millisecond))
	if p.Owed() {
		t.Fatal("still owed after Sent")
	}
}

// FuzzDecodeHint: no input panics; what is accepted is within the size cap, is typed as
// a hint, and re-encodes to the same bytes.
func FuzzDecodeHint(f *testing.F) {
	for _, n := range []int{0, 1, 8, 9} {
		enc := EncodeHint(NewMeta(n*77, testHeads(n)))
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{HintTag})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeHint(in)
		if err != nil {
			return
		}
		if len(in) > MaxHintBytes || !IsHint(in) || len(m.Heads) > MaxMetaHeads {
			t.Fatalf("DecodeHint(% x) accepted %+v", in, m)
		}
		if enc := EncodeHint(m); !bytes.Equal(enc, in) {
			t.Fatalf("DecodeHint(% x) re-encodes to % x", in, enc)
		}
	})
}
