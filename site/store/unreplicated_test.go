package store

import (
	"slices"
	"testing"
)

func TestUnreplicatedMarksSurviveReopen(t *testing.T) {
	s, path := openTemp(t, Options{Key: testKey})
	got, err := s.Unreplicated()
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh store: %v marks, err %v", got, err)
	}
	a, b, c := [32]byte{1}, [32]byte{2}, [32]byte{3}
	if err := s.MarkUnreplicated([][32]byte{c, a, b}); err != nil {
		t.Fatal(err)
	}
	if err := s.Replicated([][32]byte{b, {9}}); err != nil { // forgetting an unmarked id is fine
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err = s.Unreplicated()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, [][32]byte{a, c}) {
		t.Fatalf("after reopening: marks %x, want a and c", got)
	}
}
