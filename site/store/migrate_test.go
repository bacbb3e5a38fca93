package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// copyFixture copies testdata/format1.db, a data file of the release before records
// were sealed, into a fresh directory.
func copyFixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "atoll.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkFixture checks that s holds every record of the fixture.
func checkFixture(t *testing.T, s *Store) {
	t.Helper()
	mustEqual(t, loadAll(t, s), fixtureWant())
	r := s.Raft()
	for i := uint64(1); i <= fixtureLogs; i++ {
		var got raft.Log
		if err := r.GetLog(i, &got); err != nil {
			t.Fatal(err)
		}
		if want := fixtureLog(i); !reflect.DeepEqual(&got, want) {
			t.Fatalf("raft log entry %d: got %+v, want %+v", i, got, want)
		}
	}
	if term, err := r.GetUint64([]byte("CurrentTerm")); err != nil || term != 3 {
		t.Fatalf("CurrentTerm = %d, %v", term, err)
	}
	if ids, err := s.Unreplicated(); err != nil || len(ids) != 1 || ids[0] != fixtureRecord(1).ID {
		t.Fatalf("Unreplicated = %x, %v", ids, err)
	}
	var audit int
	if err := s.Audit("", func(string, []byte) error { audit++; return nil }); err != nil || audit != 1 {
		t.Fatalf("%d audit records, %v", audit, err)
	}
}

// fileFormat reads the format of the closed store at path.
func fileFormat(t *testing.T, path string) string {
	t.Helper()
	var f string
	rawView(t, path, func(tx *bolt.Tx) error {
		f = string(tx.Bucket(bucketMeta).Get(keyFormat))
		return nil
	})
	return f
}

func rawView(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFixture opens a data file written by the release before records were
// sealed: every change and Raft log entry comes back, and the file holds the canary
// nowhere, not even in the pages the rewrite freed.
func TestMigrateFixture(t *testing.T) {
	path := copyFixture(t)
	if f := fileFormat(t, path); f != formatClear {
		t.Fatalf("the fixture has format %q", f)
	}
	if raw, _ := os.ReadFile(path); !bytes.Contains(raw, []byte(fixtureCanary)) {
		t.Fatal("the fixture does not hold the canary in clear")
	}
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, s)
	if err := s.Append(recs(1000, 1010)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f := fileFormat(t, path); f != formatSealed {
		t.Fatalf("format %q after the migration", f)
	}
	assertNoCanary(t, path, fixtureCanary)
	if _, err := os.Stat(path + ".migrate"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the migration left %s.migrate: %v", path, err)
	}
	s, err = Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustLen(t, s, fixtureChanges+10)
	checkFixtureChanges(t, s)
}

// checkFixtureChanges checks the fixture's records come first.
func checkFixtureChanges(t *testing.T, s *Store) {
	t.Helper()
	mustEqual(t, loadAll(t, s)[:fixtureChanges], fixtureWant())
}

func assertNoCanary(t *testing.T, path, canary string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(raw, []byte(canary)); i >= 0 {
		t.Fatalf("%s holds %q in clear at byte %d", path, canary, i)
	}
}

// TestMigrateInterrupted stops the migration after k batches of 4 records (the
// fixture's 40 changes make 10 batches, its 12 log entries 3 more), as a crash
// would: each batch is one transaction, committed or not. The file keeps format 1,
// with k batches sealed; the next Open completes it.
func TestMigrateInterrupted(t *testing.T) {
	stop := errors.New("stopped")
	for _, k := range []int{1, 4, 10, 11, 13} {
		path := copyFixture(t)
		_, err := Open(path, Options{Key: testKey, migrateBatch: 4, afterBatch: func(n int) error {
			if n == k {
				return stop
			}
			return nil
		}})
		if !errors.Is(err, stop) {
			t.Fatalf("k=%d: Open = %v, want the hook's error", k, err)
		}
		if f := fileFormat(t, path); f != formatClear {
			t.Fatalf("k=%d: format %q after an interrupted migration", k, f)
		}
		if got, want := countSealed(t, path), min(4*k, fixtureChanges+fixtureLogs); got != want {
			t.Fatalf("k=%d: %d records sealed, want %d", k, got, want)
		}
		// A reader, a restore check say, reads the half-migrated file as it is.
		ro, err := Open(path, Options{Key: testKey, ReadOnly: true})
		if err != nil {
			t.Fatalf("k=%d: read-only: %v", k, err)
		}
		checkFixture(t, ro)
		ro.Close()
		// Another key is refused once the migration has written its key check.
		if _, err := Open(path, Options{Key: mustKey(bytes.Repeat([]byte{9}, 32))}); !errors.Is(err, ErrOtherKey) {
			t.Fatalf("k=%d: another key: %v, want ErrOtherKey", k, err)
		}
		done := sealedValues(t, path)
		s, err := Open(path, Options{Key: testKey, migrateBatch: 4})
		if err != nil {
			t.Fatalf("k=%d: resuming: %v", k, err)
		}
		checkFixture(t, s)
		s.Close()
		after := sealedValues(t, path)
		for k2, v := range done {
			if after[k2] != v {
				t.Fatalf("k=%d: record %x, sealed before the interruption, was sealed again", k, k2)
			}
		}
		if f := fileFormat(t, path); f != formatSealed {
			t.Fatalf("k=%d: format %q after the resumed migration", k, f)
		}
		assertNoCanary(t, path, fixtureCanary)
	}
}

// countSealed counts the values of the sealed buckets that open under testKey.
func countSealed(t *testing.T, path string) int { return len(sealedValues(t, path)) }

// sealedValues returns the values of the sealed buckets that open under testKey, by
// bucket and key.
func sealedValues(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	rawView(t, path, func(tx *bolt.Tx) error {
		for _, name := range sealedBuckets {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			_ = b.ForEach(func(k, v []byte) error {
				if _, err := testKey.Open(string(name), k, v); err == nil {
					out[string(name)+"/"+string(k)] = string(v)
				}
				return nil
			})
		}
		return nil
	})
	return out
}

// TestReadOnlyFormat1 reads a format-1 file without migrating it (a backup of the
// release before, checked by restore).
func TestReadOnlyFormat1(t *testing.T) {
	path := copyFixture(t)
	before, _ := os.ReadFile(path)
	s, err := Open(path, Options{Key: testKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, s)
	s.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a read-only Open changed a format-1 file")
	}
}

// TestOtherKey opens a sealed file, empty or not, under another key.
func TestOtherKey(t *testing.T) {
	other := mustKey(bytes.Repeat([]byte{9}, 32))
	for _, n := range []int{0, 5} {
		path := closedStore(t, n)
		for _, ro := range []bool{false, true} {
			_, err := Open(path, Options{Key: other, ReadOnly: ro})
			if !errors.Is(err, ErrOtherKey) {
				t.Fatalf("%d records, read-only %t: %v, want ErrOtherKey", n, ro, err)
			}
			wantErr(t, err, path, "sealed under another data key")
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{}); err == nil {
		t.Fatal("Open without a key succeeded")
	}
}

// TestSealedOnDisk appends a record holding a canary and finds it nowhere in the file.
func TestSealedOnDisk(t *testing.T) {
	s, path := openTemp(t, Options{Key: testKey})
	if err := s.Append([]Record{recData(1, "kind: Secret "+fixtureCanary)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Raft().StoreLog(fixtureLog(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(recData(1, "sealed body "+fixtureCanary)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, path, fixtureCanary)
}
