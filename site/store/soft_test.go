package store

import (
	"fmt"
	"testing"
)

// softRows are soft records for fixtures: 3 objects.
var softRows = []SoftRow{{Key: []byte("\x03s0/c0"), Raw: []byte("r1")}, {Key: []byte("\x03s0/c1"), Raw: []byte("r2")}, {Key: []byte("\x05ns/w/s0/c0"), Raw: []byte("r3")}}

func softAll(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	if err := s.Soft(func(raw []byte) error { out = append(out, string(raw)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSoftReplaced: a record replaces the one stored for its object, a nil one deletes
// it, and the bucket holds one value per object however often it is written.
func TestSoftReplaced(t *testing.T) {
	s, path := openTemp(t, Options{Key: testKey, NoSync: true})
	if err := s.PutSoft(softRows); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := s.PutSoft([]SoftRow{{Key: softRows[0].Key, Raw: []byte(fmt.Sprintf("r1-%d", i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutSoft([]SoftRow{{Key: softRows[1].Key}}); err != nil {
		t.Fatal(err)
	}
	got := softAll(t, s)
	if len(got) != 2 || got[0] != "r1-99" || got[1] != "r3" {
		t.Fatalf("soft records %q", got)
	}
	s.Close()
	if n := countSealed(t, path); n < 2 {
		t.Fatalf("%d sealed values: soft records are not sealed", n)
	}
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := softAll(t, s); len(got) != 2 {
		t.Fatalf("after reopening: %q", got)
	}
}
