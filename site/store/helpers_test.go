package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
)

// openTemp opens a new store in a fresh directory and closes it at cleanup.
func openTemp(t testing.TB, opt Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site.db")
	s, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// rec is record number i: a hashed id and some data naming it.
func rec(i int) Record {
	return recData(i, fmt.Sprintf("change %d", i))
}

func recData(i int, data string) Record {
	return Record{ID: sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))), Data: []byte(data)}
}

func recs(from, to int) []Record {
	var rs []Record
	for i := from; i < to; i++ {
		rs = append(rs, rec(i))
	}
	return rs
}

// loadAll returns every stored record, failing the test on error.
func loadAll(t testing.TB, s *Store) []Record {
	t.Helper()
	var got []Record
	if err := s.Load(func(r Record) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// equalRecords reports the first difference between two record lists.
func equalRecords(got, want []Record) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || !bytes.Equal(got[i].Data, want[i].Data) {
			return fmt.Errorf("record %d: got %x %q, want %x %q", i, got[i].ID[:4], got[i].Data, want[i].ID[:4], want[i].Data)
		}
	}
	return nil
}

func mustEqual(t testing.TB, got, want []Record) {
	t.Helper()
	if err := equalRecords(got, want); err != nil {
		t.Fatal(err)
	}
}

func mustLen(t testing.TB, s *Store, want int) {
	t.Helper()
	n, err := s.Len()
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("Len() = %d, want %d", n, want)
	}
}
