package crdt

import (
	"testing"
)

// TestCheckSignatures: a change signed by its author checks out under its id; the same
// change with one byte of its signature flipped does not, and its id differs, so a good
// id never vouches for a forged header.
func TestCheckSignatures(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	env := mustWrite(t, r, f.ops["root"], set(KindWorkload, "web/app", "replicas", "3"))
	raw := env.Encode()
	id, err := CheckSignatures(raw)
	if err != nil || id != env.ID {
		t.Fatalf("a good change: id %s err %v, want %s", id, err, env.ID)
	}
	bad, _ := DecodeEnvelope(raw)
	bad.Header = append([]byte(nil), bad.Header...)
	bad.Header[len(bad.Header)-2] ^= 1 // the author's signature's last byte (before the count of no cosignatures)
	bid, err := CheckSignatures(bad.Encode())
	if err == nil {
		t.Fatal("a flipped signature checked out")
	}
	if bid == env.ID {
		t.Fatal("a forged header has the good change's id")
	}
	if _, err := CheckSignatures([]byte{1, 2, 3}); err == nil {
		t.Fatal("garbage checked out")
	}
}
