package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// sealedBuckets are the buckets whose values are sealed in format 2: changes and the
// Raft log can hold bodies and kubeconfigs; soft records are sealed so that the file's
// key vouches for them, as for changes (they are not re-verified at open). The others hold ids (index,
// unreplicated), Raft's term and vote (raft-stable), the format (meta) and audit
// records (which sites, clusters and workloads, never a body).
var sealedBuckets = [][]byte{bucketChanges, bucketRaftLog, bucketSoft, bucketSkel}

// migrate seals a format-1 file, whose records are in clear, in place: it writes the
// key check, then seals every value of the sealed buckets, batch records per
// transaction; compactSealed then sets the format to 2. Each transaction commits whole
// or not at all, so an interrupted migration leaves every record either in clear or
// sealed, and the next Open resumes it: a record that opens under the key is done.
// after, if not nil, is called after each committed batch of records; its error
// stops the migration (tests use it to interrupt one).
func (s *Store) migrate(batch int, after func(batches int) error) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyCheck) != nil {
			return nil // checked by checkFile
		}
		return meta.Put(keyCheck, s.key.Seal(string(bucketMeta), keyCheck, nil))
	})
	if err != nil {
		return fmt.Errorf("migrating to format 2: %w", err)
	}
	return s.sealAll(batch, after, inClear, "migrating to format 2")
}

// sealAll seals, batch records per transaction, every value of the sealed buckets that
// does not open under the key yet; plain returns its plaintext. after is called after
// each committed batch; its error stops the walk.
func (s *Store) sealAll(batch int, after func(batches int) error, plain func(bucket, key, v []byte) ([]byte, error), what string) error {
	batches := 0
	for _, name := range sealedBuckets {
		var from []byte // the last key done; nil before the first
		for {
			var done bool
			err := s.db.Update(func(tx *bolt.Tx) error {
				var err error
				from, done, err = s.sealBatch(tx.Bucket(name), name, from, batch, plain)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: bucket %q: %w", what, name, err)
			}
			if done {
				break
			}
			batches++
			if after != nil {
				if err := after(batches); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// inClear is the plaintext of a value of a format-1 file: the value itself.
func inClear(_, _, v []byte) ([]byte, error) { return v, nil }

// sealBatch seals up to n values of b after the key from (from the first if nil) that
// do not open under the key yet; plain returns the plaintext of such a value. It
// returns the last key it looked at, and done when there was none left.
func (s *Store) sealBatch(b *bolt.Bucket, name, from []byte, n int, plain func(bucket, key, v []byte) ([]byte, error)) (last []byte, done bool, err error) {
	if b == nil {
		return nil, true, nil // a site that never ran under Raft has no log
	}
	type kv struct{ k, v []byte }
	var todo []kv
	c := b.Cursor()
	k, v := c.First()
	if from != nil {
		if k, v = c.Seek(from); bytes.Equal(k, from) {
			k, v = c.Next()
		}
	}
	seen := 0
	for ; k != nil && seen < n; k, v = c.Next() {
		seen++
		last = bytes.Clone(k)
		if v == nil {
			return nil, false, fmt.Errorf("key %x: a bucket, not a value", k)
		}
		if _, err := s.key.Open(string(name), k, v); err == nil {
			continue // sealed by an earlier, interrupted migration
		}
		// Values point into the memory map, which a put may move: copy them, and
		// write after the walk, which a put would also upset.
		p, err := plain(name, k, v)
		if err != nil {
			return nil, false, fmt.Errorf("key %x: %w", k, err)
		}
		todo = append(todo, kv{last, bytes.Clone(p)})
	}
	if seen == 0 {
		return from, true, nil
	}
	for _, r := range todo {
		if err := b.Put(r.k, s.key.Seal(string(name), r.k, r.v)); err != nil {
			return nil, false, err
		}
	}
	return last, false, nil
}

// seal seals a value of a sealed bucket for its key.
func (s *Store) seal(bucket, key, v []byte) []byte { return s.key.Seal(string(bucket), key, v) }

// open returns the plaintext of a value of a sealed bucket, in memory of its own (not
// bbolt's map).
// A format-1 file opened read-only holds it in clear, or sealed if a migration began.
// A file being re-sealed after a key rotation, opened read-only, holds it under either key.
func (s *Store) open(bucket, key, v []byte) ([]byte, error) {
	p, err := s.key.Open(string(bucket), key, v)
	if err != nil && s.rekeying {
		if q, perr := s.prev.Open(string(bucket), key, v); perr == nil {
			return q, nil
		}
	}
	if err != nil && !s.sealed {
		return bytes.Clone(v), nil
	}
	return p, err
}

// compactAndReopen ends a migration or a re-sealing (what): compactSealed, then Open
// the compacted file.
func (s *Store) compactAndReopen(bopt *bolt.Options, noSync bool, what string) error {
	if err := s.compactSealed(noSync, what); err != nil {
		return err
	}
	s.file = nil // the compacted file, a new inode, is the one to lock
	s.rekeying = false
	f, err := s.openDB(bopt)
	if err == nil && (f != formatSealed || s.rekeying) {
		err = fmt.Errorf("%s: the compacted file has format %q, rekeying %t: want %q under the key", what, f, s.rekeying, formatSealed)
	}
	return err
}

// compactSealed ends a migration or a re-sealing (what): it copies the live records,
// all sealed under the key now, into a new file beside the store, sets its format to 2
// and its key check to the key, and renames it over the store, then closes the old
// one. The copy leaves behind the pages of the old file, which bbolt had freed but not
// cleared and which still hold the records in clear (or under the previous key). A
// crash before the rename leaves the old file in format 1 (or with the previous key's
// check), whose next Open finds every record sealed and compacts again.
func (s *Store) compactSealed(noSync bool, what string) error {
	err := s.compact(noSync, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyFormat, []byte(formatSealed)); err != nil {
			return err
		}
		return meta.Put(keyCheck, s.key.Seal(string(bucketMeta), keyCheck, nil))
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// compact copies the live pages into a new file beside the store, lets finish change
// the copy, renames it over the store, then closes the old one (the caller opens the
// new one): the freed pages, which bbolt does not clear, go with the old inode.
func (s *Store) compact(noSync bool, finish func(*bolt.Tx) error) error {
	tmp := s.path + ".migrate"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: noSync})
	if err != nil {
		return err
	}
	err = bolt.Compact(dst, s.db, 64<<20)
	if err == nil {
		err = dst.Update(finish)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err == nil {
		err = SyncDir(filepath.Dir(s.path))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("compacting: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return err
	}
	s.db = nil
	return nil
}

// SyncDir makes a rename in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
