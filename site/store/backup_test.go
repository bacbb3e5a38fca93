package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestBackup(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
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
	b, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustEqual(t, loadAll(t, b), want)
	mustLen(t, s, 510)
}

func TestBackupToSize(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 300)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var size int64 = -1
	n, err := s.BackupTo(func(sz int64) io.Writer {
		if buf.Len() != 0 {
			t.Error("start called after the first byte")
		}
		size = sz
		return &buf
	})
	if err != nil {
		t.Fatal(err)
	}
	if size != n || int64(buf.Len()) != n {
		t.Fatalf("start was told %d bytes; BackupTo reported %d and wrote %d", size, n, buf.Len())
	}
}

func TestReadOnly(t *testing.T) {
	path := closedStore(t, 50)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(path, Options{Key: testKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Readers share the file; a writer waits for them.
	b, err := Open(path, Options{Key: testKey, ReadOnly: true, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	mustLen(t, b, 50)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{Key: testKey, Timeout: 20 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("a writer while a reader holds the file: %v, want ErrLocked", err)
	}
	wantErr(t, a.Append(recs(50, 51)), path)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("a read-only Store changed the file")
	}
}

func TestReadOnlyWhileWriterHolds(t *testing.T) {
	_, path := openTemp(t, Options{Key: testKey})
	_, err := Open(path, Options{Key: testKey, ReadOnly: true, Timeout: 20 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("a reader while a writer holds the file: %v, want ErrLocked", err)
	}
	wantErr(t, err, path)
}

func TestReadOnlyRefusesNew(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	_, err := Open(missing, Options{Key: testKey, ReadOnly: true})
	wantErr(t, err, missing, "no such file")
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only Open created %s", missing)
	}

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(empty, Options{Key: testKey, ReadOnly: true})
	wantErr(t, err, empty, "empty file")

	bare := filepath.Join(dir, "bare.db")
	rawUpdate(t, bare, func(*bolt.Tx) error { return nil })
	_, err = Open(bare, Options{Key: testKey, ReadOnly: true})
	wantErr(t, err, bare, "without buckets")
	for _, p := range []string{empty, bare} {
		if info, err := os.Stat(p); err != nil || (p == empty && info.Size() != 0) {
			t.Fatalf("%s changed: %v %v", p, info, err)
		}
	}
}
