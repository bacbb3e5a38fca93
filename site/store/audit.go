package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// bucketAudit holds the site's own records for the residency audit: where bodies were
// sent, where workloads ran, what was refused.
var bucketAudit = []byte("audit")

// PutAudit writes audit records in one transaction.
func (s *Store) PutAudit(recs map[string][]byte) error {
	return s.wrap(s.guard(nil, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketAudit)
			if err != nil {
				return err
			}
			for k, v := range recs {
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
			return nil
		})
	}))
}

// Audit calls fn for every audit record whose key starts with prefix, in key order.
func (s *Store) Audit(prefix string, fn func(key string, val []byte) error) error {
	return s.wrap(s.guard(nil, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
				if err := fn(string(k), v); err != nil {
					return err
				}
			}
			return nil
		})
	}))
}
