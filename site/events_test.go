package site

import (
	"fmt"
	"testing"
)

func TestEventLogKeepsTheNewest(t *testing.T) {
	l := newEventLog()
	_, changed := l.recent(0)
	for i := range maxEvents + 5 {
		l.add("site", "s01", fmt.Sprint(i))
	}
	select {
	case <-changed:
	default:
		t.Fatal("changed not closed by add")
	}
	got, _ := l.recent(0)
	if len(got) != maxEvents {
		t.Fatalf("kept %d events, want %d", len(got), maxEvents)
	}
	if got[0].Message != fmt.Sprint(maxEvents+4) || got[len(got)-1].Message != "5" {
		t.Fatalf("newest %q, oldest %q; want %d and 5", got[0].Message, got[len(got)-1].Message, maxEvents+4)
	}
	after, _ := l.recent(got[2].Seq)
	if len(after) != 2 || after[1].Seq != got[1].Seq {
		t.Fatalf("recent after seq %d: %d events", got[2].Seq, len(after))
	}
}
