package store

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// rawUpdate edits a closed store's file with bbolt directly, as a bug or a
// foreign tool might.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// closedStore makes a store file holding records 0..n-1 and closes it.
func closedStore(t *testing.T, n int) string {
	t.Helper()
	s, path := openTemp(t, Options{Key: testKey, NoSync: true})
	for i := 0; i < n; i += 100 {
		if err := s.Append(recs(i, min(i+100, n))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// openAndLoad opens path and loads every record. It returns the first error,
// which must name the path.
func openAndLoad(t *testing.T, path string) error {
	t.Helper()
	s, err := Open(path, Options{Key: testKey})
	if err == nil {
		err = s.Load(func(Record) error { return nil })
		if cerr := s.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name %s: %v", path, err)
	}
	return err
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func TestWrongFormat(t *testing.T) {
	path := closedStore(t, 3)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyFormat, []byte("atoll-store-v9"))
	})
	_, err := Open(path, Options{Key: testKey})
	wantErr(t, err, path, `"atoll-store-v9"`)
}

func TestForeignBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("users"))
		return err
	})
	_, err := Open(path, Options{Key: testKey})
	wantErr(t, err, path, "not an atoll store")
}

func TestNotABoltFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 100, 4096, 64 << 10} {
		path := filepath.Join(t.TempDir(), "garbage.db")
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{Key: testKey})
		wantErr(t, err, path)
	}
}

func TestTruncatedFile(t *testing.T) {
	path := closedStore(t, 2000)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file is grown ahead of use: only cuts below the high water mark
	// lose pages.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	_ = db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	for _, size := range []int64{0, 10, page, 2 * page, 3 * page, used / 2, used - page, used - 1} {
		// A new file each time: a failed Open may keep the old one locked.
		path := filepath.Join(t.TempDir(), "truncated.db")
		if err := os.WriteFile(path, orig[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		err := openAndLoad(t, path)
		switch {
		case size == 0 && err != nil:
			t.Errorf("empty file: %v, want a new store", err)
		case size > 0 && err == nil:
			t.Errorf("truncated to %d of %d bytes: no error", size, used)
		default:
			t.Logf("truncated to %d bytes: %v", size, err)
		}
	}
}

func TestShortRecord(t *testing.T) {
	path := closedStore(t, 3)
	id := rec(100).ID
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketChanges).Put(seqKey(17), testKey.Seal("changes", seqKey(17), id[:12])); err != nil {
			return err
		}
		return tx.Bucket(bucketIndex).Put(id[:], seqKey(17))
	})
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	calls := 0
	err = s.Load(func(Record) error { calls++; return nil })
	want := "store: " + path + ": record 17: truncated (12 bytes)"
	if err == nil || err.Error() != want {
		t.Fatalf("Load: got %v, want %s", err, want)
	}
	if calls != 0 {
		t.Fatalf("Load called fn %d times before failing, want 0", calls)
	}
}

// TestRecordDoesNotOpen replaces a sealed record with one sealed for another
// key, and with the same bytes in clear: Load fails before calling fn.
func TestRecordDoesNotOpen(t *testing.T) {
	for name, sealed := range map[string]func(v []byte) []byte{
		"moved":    func(v []byte) []byte { return testKey.Seal("changes", seqKey(99), v) },
		"in clear": func(v []byte) []byte { return v },
	} {
		path := closedStore(t, 3)
		r := rec(1)
		rawUpdate(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketChanges).Put(seqKey(2), sealed(encode(&r)))
		})
		err := openAndLoad(t, path)
		wantErr(t, err, path, "record 2: ", "does not decrypt")
		if !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
}

func TestIndexPointsNowhere(t *testing.T) {
	path := closedStore(t, 3)
	id := rec(100).ID
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIndex).Put(id[:], seqKey(99))
	})
	wantErr(t, openAndLoad(t, path), path, "record 99 missing")
}

func TestRecordNotIndexed(t *testing.T) {
	path := closedStore(t, 3)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		id := rec(1).ID
		return tx.Bucket(bucketIndex).Delete(id[:])
	})
	wantErr(t, openAndLoad(t, path), path, "record 2: id", "not indexed")
}

// TestScribbledPages overwrites a few bytes of the data pages (never the two
// meta pages, which bbolt checksums) of a valid file, with fixed seeds. Open
// and Load may succeed or fail, but must never panic: a panic fails the whole
// test binary.
func TestScribbledPages(t *testing.T) {
	path := closedStore(t, 1000)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	var failed int
	for seed := uint64(0); seed < 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		b := append([]byte(nil), orig...)
		at := 2*page + rng.IntN(len(b)-2*page)
		n := 1 + rng.IntN(64)
		for i := at; i < at+n && i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
		binary.BigEndian.PutUint64(b[at-at%page:], rng.Uint64()>>uint(rng.IntN(64))) // often a bad page id
		path := filepath.Join(t.TempDir(), "scribbled.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := openAndLoad(t, path); err != nil {
			failed++
			t.Logf("seed %d: %v", seed, err)
		}
	}
	t.Logf("%d of 60 scribbled files were rejected", failed)
}

// TestBrokenWhileOpen scribbles over the data pages of an open store, as a
// failing disk or a stray writer might. Load fails naming the file, and the
// Store then refuses every call instead of trusting bbolt again.
func TestBrokenWhileOpen(t *testing.T) {
	s, path := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 1000)); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	garbage := make([]byte, info.Size()-2*page)
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(garbage, 2*page); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	loadErr := s.Load(func(Record) error { return nil })
	wantErr(t, loadErr, path, "corrupt file")
	_, lenErr := s.Len()
	wantErr(t, lenErr, path, "corrupt file")
	wantErr(t, s.Append(recs(1000, 1001)), path, "corrupt file")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
