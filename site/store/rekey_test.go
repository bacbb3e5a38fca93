package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// TestRekey opens a file sealed under testKey with a new key and testKey as the
// previous one, the start of a site after its identity key was rotated: interrupted
// after k batches, the file still opens (read-only, or resuming), and once done every
// record and Raft log entry opens under the new key only.
func TestRekey(t *testing.T) {
	newKey := mustKey(bytes.Repeat([]byte{8}, 32))
	stop := errors.New("stopped")
	const logs = 5
	for _, k := range []int{0, 1, 3, 5} { // 0: not interrupted
		s, path := openTemp(t, Options{Key: testKey, NoSync: true})
		want := recs(0, 10)
		if err := s.Append(want); err != nil {
			t.Fatal(err)
		}
		for i := uint64(1); i <= logs; i++ {
			if err := s.Raft().StoreLog(fixtureLog(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutSoft(softRows); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSkeletons([]Skeleton{skeletonOf(2), skeletonOf(7)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := Open(path, Options{Key: newKey}); !errors.Is(err, ErrOtherKey) {
			t.Fatalf("k=%d: the new key alone: %v, want ErrOtherKey", k, err)
		}
		if k > 0 {
			_, err := Open(path, Options{Key: newKey, PreviousKey: testKey, migrateBatch: 3, afterBatch: func(n int) error {
				if n == k {
					return stop
				}
				return nil
			}})
			if !errors.Is(err, stop) {
				t.Fatalf("k=%d: Open = %v, want the hook's error", k, err)
			}
			ro, err := Open(path, Options{Key: newKey, PreviousKey: testKey, ReadOnly: true})
			if err != nil {
				t.Fatalf("k=%d: read-only while half re-sealed: %v", k, err)
			}
			mustEqual(t, loadAll(t, ro), want)
			ro.Close()
		}
		s, err := Open(path, Options{Key: newKey, PreviousKey: testKey, migrateBatch: 3})
		if err != nil {
			t.Fatalf("k=%d: re-sealing: %v", k, err)
		}
		mustEqual(t, loadAll(t, s), want)
		var skels int
		if err := s.LoadLive(func(r Record) error {
			if r.Skeleton {
				skels++
			}
			return nil
		}); err != nil || skels != 2 {
			t.Fatalf("k=%d: skeletons after re-sealing: %d, %v", k, skels, err)
		}
		var l raft.Log
		if err := s.Raft().GetLog(logs, &l); err != nil || !bytes.Equal(l.Data, fixtureLog(logs).Data) {
			t.Fatalf("k=%d: Raft log entry %d after re-sealing: %q, %v", k, logs, l.Data, err)
		}
		s.Close()

		s, err = Open(path, Options{Key: newKey})
		if err != nil {
			t.Fatalf("k=%d: the new key alone after re-sealing: %v", k, err)
		}
		mustEqual(t, loadAll(t, s), want)
		if got := softAll(t, s); len(got) != len(softRows) {
			t.Fatalf("k=%d: %d soft records after re-sealing, want %d", k, len(got), len(softRows))
		}
		s.Close()
		if _, err := Open(path, Options{Key: testKey}); !errors.Is(err, ErrOtherKey) {
			t.Fatalf("k=%d: the previous key after re-sealing: %v, want ErrOtherKey", k, err)
		}
		rawView(t, path, func(tx *bolt.Tx) error {
			for _, name := range sealedBuckets {
				if name := string(name); name == "soft" && tx.Bucket([]byte(name)) == nil {
					t.Errorf("k=%d: no soft bucket in the fixture", k)
					continue
				}
				_ = tx.Bucket(name).ForEach(func(key, v []byte) error {
					if _, err := testKey.Open(string(name), key, v); err == nil {
						t.Errorf("k=%d: %s/%x still opens under the previous key", k, name, key)
					}
					if _, err := newKey.Open(string(name), key, v); err != nil {
						t.Errorf("k=%d: %s/%x does not open under the new key: %v", k, name, key, err)
					}
					return nil
				})
			}
			return nil
		})
	}
}

// TestRekeyOtherKeys: a previous key that is not the file's is no help.
func TestRekeyOtherKeys(t *testing.T) {
	path := closedStore(t, 5)
	a, b := mustKey(bytes.Repeat([]byte{8}, 32)), mustKey(bytes.Repeat([]byte{9}, 32))
	if _, err := Open(path, Options{Key: a, PreviousKey: b}); !errors.Is(err, ErrOtherKey) {
		t.Fatalf("neither key the file's: %v, want ErrOtherKey", err)
	}
	s, err := Open(path, Options{Key: testKey, PreviousKey: b})
	if err != nil {
		t.Fatalf("the file's own key with an unrelated previous key: %v", err)
	}
	mustEqual(t, loadAll(t, s), recs(0, 5))
	s.Close()
}
