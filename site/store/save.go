package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// keyCompact, in the meta bucket, marks a file whose freed pages may still hold the
// sealed bytes of a record that was replaced by shorter data: bodies the site may no
// longer hold. The next Open that may write compacts the file and clears it.
var keyCompact = []byte("compact")

// Save stores recs in one transaction, all of them or, on error, none. A record whose id
// is not stored yet is appended; one whose id is stored replaces that record's data in
// place, keeping its place in append order: a sealed body that arrived after its header,
// or a header-only record in place of one whose bodies the site may no longer hold. When
// recs holds an id twice, the later record is the one stored. It returns how many
// records it appended, and is as durable as Append.
//
// bbolt frees the pages of a replaced value without clearing them, so when a record is
// replaced by shorter data Save marks the file, and the next Open compacts it: until
// then, the old record's sealed bytes may stay in the file and in its backups.
func (s *Store) Save(recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	added := 0
	err := s.guard(nil, func() error {
		added = 0
		return s.db.Update(func(tx *bolt.Tx) error {
			changes, index := tx.Bucket(bucketChanges), tx.Bucket(bucketIndex)
			shrunk := false
			for i := range recs {
				r := &recs[i]
				key, old, err := s.slot(changes, index, r.ID)
				if err != nil {
					return err
				}
				if old == nil {
					if err := index.Put(r.ID[:], key); err != nil {
						return fmt.Errorf("index %x: %w", r.ID, err)
					}
					added++
				}
				v := s.seal(bucketChanges, key, encode(r))
				// Sealing adds the same overhead to every value: compare sealed lengths.
				shrunk = shrunk || old != nil && len(v) < len(old)
				if err := changes.Put(key, v); err != nil {
					return fmt.Errorf("record %d: %w", binary.BigEndian.Uint64(key), err)
				}
			}
			if shrunk {
				return tx.Bucket(bucketMeta).Put(keyCompact, []byte{1})
			}
			return nil
		})
	})
	if err != nil {
		return 0, s.wrap(fmt.Errorf("save %d records: %w", len(recs), err))
	}
	return added, nil
}

// slot returns the key of the record with id and its sealed value, or a new key and a
// nil value for an id not stored yet.
func (s *Store) slot(changes, index *bolt.Bucket, id [32]byte) (key, old []byte, err error) {
	key = index.Get(id[:])
	if key == nil {
		seq, err := changes.NextSequence()
		return seqKey(seq), nil, err
	}
	if len(key) != 8 {
		return nil, nil, fmt.Errorf("index entry %x has a %d-byte sequence, want 8", id, len(key))
	}
	// key points into the mmap and is only valid until the next put: copy it.
	key = bytes.Clone(key)
	if old = changes.Get(key); old == nil {
		return nil, nil, fmt.Errorf("index entry %x points to record %d, which is missing", id, binary.BigEndian.Uint64(key))
	}
	return key, old, nil
}

// compactDue reports whether Save marked the file for compaction.
func (s *Store) compactDue() bool {
	due := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		due = tx.Bucket(bucketMeta).Get(keyCompact) != nil
		return nil
	})
	return due
}
