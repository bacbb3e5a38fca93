package store

import (
	"bytes"
	"errors"
	"testing"
)

// skeletonOf is a stand-in skeleton of record i: a version byte, then the id, as the
// replica's skeletons begin (crdt/skeleton.go).
func skeletonOf(i int) Skeleton {
	id := rec(i).ID
	return Skeleton{ID: id, Data: append(append([]byte{1}, id[:]...), "skeleton"...)}
}

// TestLoadLive: a change stored with a skeleton comes back as its skeleton, in its place
// in append order, without opening the change; Load and Get still give the change whole.
// A skeleton of a change not stored is refused and nothing is written.
func TestLoadLive(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 6)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSkeletons([]Skeleton{skeletonOf(1), skeletonOf(4)}); err != nil {
		t.Fatal(err)
	}
	err := s.PutSkeletons([]Skeleton{skeletonOf(2), skeletonOf(9)})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("a skeleton of a change not stored: %v, want ErrNotFound", err)
	}
	var got []Record
	if err := s.LoadLive(func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("LoadLive gave %d records, want 6", len(got))
	}
	for i, r := range got {
		skel := i == 1 || i == 4
		want := rec(i).Data
		if skel {
			want = skeletonOf(i).Data
		}
		if r.ID != rec(i).ID || r.Skeleton != skel || !bytes.Equal(r.Data, want) {
			t.Fatalf("record %d: skeleton %v, data %q; want skeleton %v, %q", i, r.Skeleton, r.Data, skel, want)
		}
	}
	mustEqual(t, loadAll(t, s), recs(0, 6))
	if data, ok, _ := s.Get(rec(4).ID); !ok || !bytes.Equal(data, rec(4).Data) {
		t.Fatalf("Get of a change with a skeleton: %q", data)
	}
}
