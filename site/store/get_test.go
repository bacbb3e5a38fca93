package store

import (
	"bytes"
	"testing"
)

// TestGet reads one record back by id: what a replica does for a change it keeps as a
// skeleton (crdt/compact.go). It sees what Save replaced, and nothing for an id not stored.
func TestGet(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 5)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		data, ok, err := s.Get(rec(i).ID)
		if err != nil || !ok || !bytes.Equal(data, rec(i).Data) {
			t.Fatalf("record %d: %q %v %v, want %q", i, data, ok, err, rec(i).Data)
		}
	}
	if _, err := s.Save([]Record{recData(2, "with its bodies")}); err != nil {
		t.Fatal(err)
	}
	if data, ok, _ := s.Get(rec(2).ID); !ok || string(data) != "with its bodies" {
		t.Fatalf("after Save: %q %v", data, ok)
	}
	if data, ok, err := s.Get(rec(9).ID); ok || err != nil || data != nil {
		t.Fatalf("an id not stored: %q %v %v", data, ok, err)
	}
}
