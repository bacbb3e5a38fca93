package store

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBackup(t *testing.T) {
	s, _ := openTemp(t, Options{})
	if err := s.Append(recs(0, 500)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(recData(7, "sealed")); err != nil {
		t.Fatal(err)
	}
	want := loadAll(t, s)

	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Backup(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Size() != n {
		t.Fatalf("Backup reported %d bytes, file has %v (%v)", n, info.Size(), err)
	}

	// The original keeps working; the copy does not see later appends.
	if err := s.Append(recs(500, 510)); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustEqual(t, loadAll(t, b), want)
	mustLen(t, s, 510)
}
