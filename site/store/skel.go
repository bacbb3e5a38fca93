package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketSkel holds, beside a stored change, the skeleton its replica keeps in memory once
// the change is compacted (crdt/skeleton.go), sealed and under the change's record key.
// The change stays whole in the changes bucket, for peers that ask for it; LoadLive hands
// back the skeleton instead, so a restart reads what is live and a few dozen bytes per
// compacted change. Older releases ignore the bucket.
var bucketSkel = []byte("skel")

// Skeleton is a change's skeleton to store beside it.
type Skeleton struct {
	ID   [32]byte
	Data []byte
}

// PutSkeletons stores skeletons beside their changes, in one transaction; a skeleton of a
// change not stored is an error wrapping ErrNotFound, and nothing is written.
func (s *Store) PutSkeletons(sks []Skeleton) error {
	if len(sks) == 0 {
		return nil
	}
	return s.wrap(s.guard(nil, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketSkel)
			if err != nil {
				return err
			}
			index := tx.Bucket(bucketIndex)
			for _, sk := range sks {
				key := index.Get(sk.ID[:])
				if key == nil {
					return fmt.Errorf("skeleton of %x: %w", sk.ID, ErrNotFound)
				}
				key = bytes.Clone(key) // valid only until the put
				if err := b.Put(key, s.seal(bucketSkel, key, sk.Data)); err != nil {
					return err
				}
			}
			return nil
		})
	}))
}

// LoadLive calls fn with every record in append order, as Load does, but for a change
// stored with a skeleton it hands the skeleton (Record.Skeleton set, Data the skeleton)
// and does not open the change. It checks every index entry and what it opens.
func (s *Store) LoadLive(fn func(Record) error) error {
	var (
		fnErr error
		inFn  bool
	)
	err := s.guard(&inFn, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			changes, index, skel := tx.Bucket(bucketChanges), tx.Bucket(bucketIndex), tx.Bucket(bucketSkel)
			ids := map[uint64][32]byte{}
			err := changes.ForEach(func(k, v []byte) error {
				if len(k) != 8 {
					return fmt.Errorf("record key %x: %d bytes, want 8", k, len(k))
				}
				seq := binary.BigEndian.Uint64(k)
				var r Record
				bucket := bucketChanges
				if skel != nil {
					if sv := skel.Get(k); sv != nil {
						v, bucket, r.Skeleton = sv, bucketSkel, true
					}
				}
				if v == nil {
					return fmt.Errorf("record %d: a bucket, not a value", seq)
				}
				p, err := s.open(bucket, k, v)
				if err != nil {
					return fmt.Errorf("record %d: %w", seq, err)
				}
				if r.Skeleton {
					if len(p) < 33 {
						return fmt.Errorf("skeleton %d: truncated (%d bytes)", seq, len(p))
					}
					copy(r.ID[:], p[1:33]) // after the skeleton's version byte
					r.Data = p
				} else {
					if len(p) < 32 {
						return fmt.Errorf("record %d: truncated (%d bytes)", seq, len(p))
					}
					copy(r.ID[:], p)
					r.Data = p[32:]
				}
				if got := index.Get(r.ID[:]); !bytes.Equal(got, k) {
					return fmt.Errorf("record %d: id %x not indexed to it (index has %x)", seq, r.ID, got)
				}
				ids[seq] = r.ID
				inFn = true
				fnErr = fn(r)
				inFn = false
				return fnErr
			})
			if err != nil {
				return err
			}
			return checkIndex(index, ids)
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
