package site

import (
	"bytes"
	"testing"
	"testing/iotest"
	"time"
)

// A subscriber that never reads does not hold up publish or the others, and a reader
// sees the latest view; unchanged views tell no one; waiters are released by any view.
func TestViewcastLatestOnly(t *testing.T) {
	vc := newViewcast(2 * DefaultTuning().ViewBeat)
	slow, fast := vc.subscribe(), vc.subscribe()
	never := make(chan struct{})
	for seq := uint64(1); seq <= 3; seq++ {
		vc.publish(&viewFrame{seq: seq, at: time.Now(), arrived: never, events: never})
	}
	select {
	case <-fast:
	default:
		t.Fatal("no signal after three views")
	}
	if f := vc.latest(); f.seq != 3 {
		t.Fatalf("latest view %d, want 3", f.seq)
	}
	vc.publish(&viewFrame{seq: 3, at: time.Now(), arrived: never, events: never})
	select {
	case <-fast:
		t.Fatal("an unchanged view signalled")
	default:
	}
	if len(slow) != 1 {
		t.Fatalf("the slow subscriber holds %d signals, want 1", len(slow))
	}
	f, err := vc.get(t.Context())
	if err != nil || f.seq != 3 {
		t.Fatalf("a fresh view is served as it is: %v %v", f, err)
	}
	closed := make(chan struct{})
	close(closed)
	vc.publish(&viewFrame{seq: 4, at: time.Now(), arrived: closed, events: never})
	done := make(chan *viewFrame)
	go func() { f, _ := vc.get(t.Context()); done <- f }()
	<-vc.wake // the stale view makes get ask the producer
	vc.publish(&viewFrame{seq: 5, at: time.Now(), arrived: never, events: never})
	if f := <-done; f.seq != 5 {
		t.Fatalf("get after a stale view returned %d, want 5", f.seq)
	}
}

// readBody joins what it reads in chunks, whatever the reader's pace.
func TestReadBody(t *testing.T) {
	want := bytes.Repeat([]byte("atoll"), 100_000)
	for _, hint := range []int{0, 10, len(want), 2 * len(want)} {
		got, err := readBody(iotest.HalfReader(bytes.NewReader(want)), hint)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("hint %d: %d bytes, %v", hint, len(got), err)
		}
	}
	if _, err := readBody(iotest.TimeoutReader(bytes.NewReader(want)), 0); err == nil {
		t.Fatal("a failing reader's error was lost")
	}
}
