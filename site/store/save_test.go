package store

import (
	"bytes"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Save appends new ids and replaces stored ones in place; an id twice in one call ends
// with its later record.
func TestSaveAppendsAndReplaces(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true, Key: testKey})
	if n, err := s.Save(recs(0, 3)); err != nil || n != 3 {
		t.Fatalf("Save = %d, %v; want 3 appended", n, err)
	}
	withBody, headerOnly := recData(1, "header and body"), recData(1, "header")
	n, err := s.Save([]Record{rec(3), withBody, recData(4, "x"), headerOnly, recData(4, "y")})
	if err != nil || n != 2 {
		t.Fatalf("Save = %d, %v; want 2 appended", n, err)
	}
	mustEqual(t, loadAll(t, s), []Record{rec(0), headerOnly, rec(2), rec(3), recData(4, "y")})
	mustLen(t, s, 5)
}

// sealedValue returns the sealed bytes of the record with id, as they are in the file.
func sealedValue(t *testing.T, s *Store, id [32]byte) []byte {
	t.Helper()
	var v []byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketChanges).Get(tx.Bucket(bucketIndex).Get(id[:])))
		return nil
	}); err != nil || v == nil {
		t.Fatalf("record %x: %v", id[:4], err)
	}
	return v
}

// A record replaced by shorter data (bodies dropped) leaves its old sealed bytes in pages
// bbolt freed but did not clear; the next Open compacts the file, so that they are gone
// from it, and the records are unchanged.
func TestSaveShorterCompactsOnOpen(t *testing.T) {
	s, path := openTemp(t, Options{NoSync: true, Key: testKey})
	body := bytes.Repeat([]byte("secret body "), 400)
	full := recData(1, "header "+string(body))
	if _, err := s.Save(append(recs(0, 1), full, rec(2))); err != nil {
		t.Fatal(err)
	}
	old := sealedValue(t, s, full.ID)
	if _, err := s.Save([]Record{recData(1, "header")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, old) {
		t.Skip("bbolt cleared or reused the freed pages: nothing left to compact")
	}
	s, err = Open(path, Options{NoSync: true, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); bytes.Contains(raw, old) {
		t.Fatal("after Open the file still holds the sealed bytes of the record with the body")
	}
	mustEqual(t, loadAll(t, s), []Record{rec(0), recData(1, "header"), rec(2)})
	// A replacement by longer data (a body that arrived) needs no compaction.
	if _, err := s.Save([]Record{recData(2, "change 2 with its body")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if compactDue(t, path) {
		t.Fatal("the compaction mark outlived the compaction, or a longer replacement set it")
	}
}

// compactDue reads the compaction mark of the closed file at path (rawView blocks on
// the lock of an open one).
func compactDue(t *testing.T, path string) bool {
	t.Helper()
	var due bool
	rawView(t, path, func(tx *bolt.Tx) error {
		due = tx.Bucket(bucketMeta).Get(keyCompact) != nil
		return nil
	})
	return due
}
