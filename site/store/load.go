package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Load calls fn with every record, in append order. It first checks the
// whole file (every record and index entry) and fails, naming the first bad
// record's sequence number, before calling fn at all. It stops at the first
// error from fn and returns that error unchanged. The Data handed to fn is a
// copy that fn may keep (nil for empty data).
func (s *Store) Load(fn func(Record) error) error {
	var (
		fnErr error
		inFn  bool // a panic in fn is the caller's: guard lets it through
	)
	err := s.guard(&inFn, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			changes, index := tx.Bucket(bucketChanges), tx.Bucket(bucketIndex)
			if err := s.check(changes, index); err != nil {
				return err
			}
			return changes.ForEach(func(k, v []byte) error {
				p, err := s.open(bucketChanges, k, v)
				if err != nil {
					return fmt.Errorf("record %d: %w", binary.BigEndian.Uint64(k), err)
				}
				var r Record
				copy(r.ID[:], p)
				if len(p) > len(r.ID) {
					r.Data = p[len(r.ID):]
				}
				inFn = true
				fnErr = fn(r)
				inFn = false
				return fnErr
			})
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return s.wrap(err)
	}
	return nil
}

// check validates both buckets against each other: every record is an
// 8-byte key and, once opened, at least a 32-byte id, and its id is indexed to
// it; every index entry points to a record with its id. Together these make the
// index exactly the inverse of the changes bucket.
func (s *Store) check(changes, index *bolt.Bucket) error {
	ids := map[uint64][32]byte{} // the id of each record
	err := changes.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("record key %x: %d bytes, want 8", k, len(k))
		}
		seq := binary.BigEndian.Uint64(k)
		if v == nil {
			return fmt.Errorf("record %d: a bucket, not a value", seq)
		}
		v, err := s.open(bucketChanges, k, v)
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if len(v) < 32 {
			return fmt.Errorf("record %d: truncated (%d bytes)", seq, len(v))
		}
		if got := index.Get(v[:32]); !bytes.Equal(got, k) {
			return fmt.Errorf("record %d: id %x not indexed to it (index has %x)", seq, v[:32], got)
		}
		ids[seq] = [32]byte(v[:32])
		return nil
	})
	if err != nil {
		return err
	}
	return checkIndex(index, ids)
}

// checkIndex checks that every index entry points to the record of its id, given the id
// of each record.
func checkIndex(index *bolt.Bucket, ids map[uint64][32]byte) error {
	return index.ForEach(func(id, k []byte) error {
		if len(id) != 32 {
			return fmt.Errorf("index entry %x: id is %d bytes, want 32", id, len(id))
		}
		if len(k) != 8 {
			return fmt.Errorf("index entry %x: sequence is %d bytes, want 8", id, len(k))
		}
		seq := binary.BigEndian.Uint64(k)
		got, ok := ids[seq]
		if !ok {
			return fmt.Errorf("index entry %x: record %d missing", id, seq)
		}
		if !bytes.Equal(got[:], id) {
			return fmt.Errorf("index entry %x: record %d has another id", id, seq)
		}
		return nil
	})
}
