package crdt

import (
	"fmt"
	"testing"
)

// runSync runs a whole session between a (initiator) and b, returning the initiator's stats.
func runSync(t testing.TB, a, b *Replica, salt uint64) SyncStats {
	t.Helper()
	sa, msg := a.Initiate(b.Self(), salt)
	sb := b.Respond(a.Self())
	for turn := 0; msg != nil; turn++ {
		if turn > 100 {
			t.Fatal("sync did not finish in 100 messages")
		}
		side := sb
		if turn%2 == 1 {
			side = sa
		}
		var err error
		msg, _, err = side.Step(msg)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !sa.Done() || !sb.Done() {
		t.Fatalf("session ended with done=%v/%v", sa.Done(), sb.Done())
	}
	return sa.Stats()
}

// diverge gives a and b common changes, then onlyA and onlyB changes of their own.
func diverge(t testing.TB, f *fed, a, b *Replica, common, onlyA, onlyB int) int {
	t.Helper()
	write := func(r *Replica, site string, i int) *Envelope {
		return mustWrite(t, r, f.sites[site], set(KindStatus, StatusKey("shop", fmt.Sprintf("w%d", i), site, "c1"), "ready", fmt.Sprint(i)))
	}
	for i := 0; i < common; i++ {
		b.ReceiveEnvelope(write(a, "eu-west", i))
	}
	payload := 0
	for i := 0; i < onlyA; i++ {
		payload += len(write(a, "eu-west", common+i).Encode())
	}
	for i := 0; i < onlyB; i++ {
		payload += len(write(b, "us-east", i).Encode())
	}
	return payload
}

func TestSyncCases(t *testing.T) {
	cases := []struct {
		name                  string
		common, onlyA, onlyB  int
		maxMessages, maxBytes int
	}{
		{"in sync", 50, 0, 0, 2, 200},
		{"initiator behind", 50, 0, 10, 2, -1},
		{"initiator ahead", 50, 10, 0, 3, -1},
		{"diverged 1", 50, 1, 0, 4, -1},
		{"diverged both", 200, 30, 40, 8, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFed(t)
			a, b := f.replica(t, "eu-west"), f.replica(t, "us-east")
			payload := diverge(t, f, a, b, tc.common, tc.onlyA, tc.onlyB)
			if tc.name == "diverged 1" {
				// b also writes one change a never saw: both sides have unknown heads.
				payload += len(mustWrite(t, b, f.sites["us-east"], set(KindSite, "us-east", "version", "2")).Encode())
			}
			st := runSync(t, a, b, 7)
			if a.Digest() != b.Digest() || a.Len() != b.Len() {
				t.Fatalf("not converged: %s / %s", a, b)
			}
			if st.Messages > tc.maxMessages {
				t.Errorf("%d messages, want <= %d", st.Messages, tc.maxMessages)
			}
			limit := tc.maxBytes
			if limit < 0 {
				limit = payload*13/10 + 1024
			}
			if st.Bytes() > limit {
				t.Errorf("%d bytes for %d bytes of changes, limit %d", st.Bytes(), payload, limit)
			}
			t.Logf("%d messages, %d bytes, payload %d, symbols %d", st.Messages, st.Bytes(), payload, st.Symbols)
		})
	}
}

func TestSyncRejectsGarbage(t *testing.T) {
	f := newFed(t)
	a := f.replica(t, "eu-west")
	for _, msg := range [][]byte{nil, {0}, {9, 0}, {byte(msgHello), 0xff, 0xff, 0xff, 0xff, 0x0f}, {byte(msgHello), 1, 0xff, 0xff, 0x3f}} {
		s := a.Respond(f.sites["us-east"].Public())
		if _, _, err := s.Step(msg); err == nil {
			t.Errorf("message %x accepted", msg)
		}
	}
}
