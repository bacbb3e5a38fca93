package store

import (
	bolt "go.etcd.io/bbolt"
)

// bucketSoft holds the soft records the site holds (crdt/softstate.go), the latest one
// per object, sealed like the changes. A record replaces the one before it in place, so
// the bucket's size follows the live objects, not how often they changed.
var bucketSoft = []byte("soft")

// SoftRow is a soft record to store under its object's key, or (Raw nil) to delete.
type SoftRow struct {
	Key []byte // the object: kind byte, then its key
	Raw []byte
}

// PutSoft stores and deletes soft records in one transaction. It is as durable as Save.
func (s *Store) PutSoft(rows []SoftRow) error {
	if len(rows) == 0 {
		return nil
	}
	return s.wrap(s.guard(nil, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketSoft)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if r.Raw == nil {
					err = b.Delete(r.Key)
				} else {
					err = b.Put(r.Key, s.seal(bucketSoft, r.Key, r.Raw))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}))
}

// Soft calls fn with every soft record stored, in key order.
func (s *Store) Soft(fn func(raw []byte) error) error {
	return s.wrap(s.guard(nil, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSoft)
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				p, err := s.open(bucketSoft, k, v)
				if err != nil {
					return err
				}
				return fn(p)
			})
		})
	}))
}

// SoftCount returns how many soft records are stored (a walk of the bucket's pages, not
// of its values).
func (s *Store) SoftCount() (int, error) {
	n := 0
	err := s.wrap(s.guard(nil, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketSoft); b != nil {
				n = b.Stats().KeyN
			}
			return nil
		})
	}))
	return n, err
}
