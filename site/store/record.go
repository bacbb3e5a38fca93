package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Record is one stored change: its id and its opaque encoded bytes.
type Record struct {
	ID   [32]byte
	Data []byte
	// Skeleton: Data is the change's skeleton, not the change (LoadLive).
	Skeleton bool
}

// ErrNotFound is returned, wrapped, by Put for an id that is not stored.
var ErrNotFound = errors.New("id not stored")

// Append stores recs after every record already stored, in one transaction:
// all of them or, on error, none. A record whose id is already stored, or
// appears earlier in recs, is skipped and its stored data kept, so appending
// the same change twice is harmless. When Append returns nil the records are
// durable (see the package doc), and the caller may acknowledge them.
func (s *Store) Append(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	err := s.guard(nil, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			changes, index := tx.Bucket(bucketChanges), tx.Bucket(bucketIndex)
			for i := range recs {
				r := &recs[i]
				if index.Get(r.ID[:]) != nil {
					continue
				}
				seq, err := changes.NextSequence()
				if err != nil {
					return err
				}
				key := seqKey(seq)
				if err := changes.Put(key, s.seal(bucketChanges, key, encode(r))); err != nil {
					return fmt.Errorf("record %d: %w", seq, err)
				}
				if err := index.Put(r.ID[:], key); err != nil {
					return fmt.Errorf("index %x: %w", r.ID, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return s.wrap(fmt.Errorf("append %d records: %w", len(recs), err))
	}
	return nil
}

// Put replaces the data of the stored record with rec.ID, keeping its place
// in append order; it is used when a sealed body arrives after the header was
// stored. An id that is not stored is an error wrapping ErrNotFound, and
// nothing is written. It is as durable as Append.
func (s *Store) Put(rec Record) error {
	err := s.guard(nil, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			key := tx.Bucket(bucketIndex).Get(rec.ID[:])
			if key == nil {
				return ErrNotFound
			}
			if len(key) != 8 {
				return fmt.Errorf("index entry has a %d-byte sequence, want 8", len(key))
			}
			changes := tx.Bucket(bucketChanges)
			if changes.Get(key) == nil {
				return fmt.Errorf("index entry points to record %d, which is missing", binary.BigEndian.Uint64(key))
			}
			// key points into the mmap and is only valid until the put: copy it.
			key = bytes.Clone(key)
			return changes.Put(key, s.seal(bucketChanges, key, encode(&rec)))
		})
	})
	if err != nil {
		return s.wrap(fmt.Errorf("put %x: %w", rec.ID, err))
	}
	return nil
}

// seqKey is the changes bucket key for sequence seq.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// encode is the plaintext of a changes bucket value: id || data.
func encode(r *Record) []byte {
	v := make([]byte, 0, len(r.ID)+len(r.Data))
	return append(append(v, r.ID[:]...), r.Data...)
}

// Get returns the data of the record with id, and whether it is stored.
func (s *Store) Get(id [32]byte) ([]byte, bool, error) {
	var data []byte
	found := false
	err := s.guard(nil, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			key := tx.Bucket(bucketIndex).Get(id[:])
			if key == nil {
				return nil
			}
			v := tx.Bucket(bucketChanges).Get(key)
			if v == nil {
				return fmt.Errorf("index entry %x points to record %d, which is missing", id, binary.BigEndian.Uint64(key))
			}
			p, err := s.open(bucketChanges, key, v)
			if err != nil {
				return err
			}
			if len(p) < len(id) || !bytes.Equal(p[:len(id)], id[:]) {
				return fmt.Errorf("record %d does not hold change %x", binary.BigEndian.Uint64(key), id)
			}
			data, found = bytes.Clone(p[len(id):]), true
			return nil
		})
	})
	if err != nil {
		return nil, false, s.wrap(err)
	}
	return data, found, nil
}
