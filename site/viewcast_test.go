package site

import (
	"bytes"
	"context"
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

// current serves the latest view at once however stale, and asks the producer for a
// newer one; it waits only when no view was made for maxAge and no stream is open. after
// waits for a view beyond the sequence it was given.
func TestViewcastCurrentAndAfter(t *testing.T) {
	vc := newViewcast(time.Minute)
	closed, never := make(chan struct{}), make(chan struct{})
	close(closed)
	vc.publish(&viewFrame{seq: 1, at: time.Now(), arrived: closed, events: never})
	if f, err := vc.current(t.Context()); err != nil || f.seq != 1 {
		t.Fatalf("current with a stale view: %v %v, want it at once", f, err)
	}
	select {
	case <-vc.wake:
	default:
		t.Fatal("current served a stale view without asking for a newer one")
	}

	vc.mu.Lock()
	vc.cur.made = time.Now().Add(-2 * time.Minute) // nobody read views for a while
	vc.mu.Unlock()
	done := make(chan *viewFrame)
	go func() { f, _ := vc.current(t.Context()); done <- f }()
	<-vc.wake
	vc.publish(&viewFrame{seq: 2, at: time.Now(), arrived: never, events: never})
	if f := <-done; f.seq != 2 {
		t.Fatalf("current after a silence returned %d, want the next view 2", f.seq)
	}

	sub := vc.subscribe() // an open stream: an old view is served at once
	vc.mu.Lock()
	vc.cur.made = time.Now().Add(-2 * time.Minute)
	vc.mu.Unlock()
	if f, err := vc.current(t.Context()); err != nil || f.seq != 2 {
		t.Fatalf("current with a stream open: %v %v, want view 2 at once", f, err)
	}
	vc.unsubscribe(sub)

	go func() { f, _ := vc.after(t.Context(), 2); done <- f }()
	vc.publish(&viewFrame{seq: 2, at: time.Now(), arrived: never, events: never})
	vc.publish(&viewFrame{seq: 3, at: time.Now(), arrived: never, events: never})
	if f := <-done; f.seq != 3 {
		t.Fatalf("after 2 returned %d, want 3", f.seq)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if f, err := vc.after(ctx, 3); err == nil {
		t.Fatalf("after 3 with no newer view and a cancelled context: %v, want an error", f.seq)
	}
}
