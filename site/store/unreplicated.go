package store

import (
	bolt "go.etcd.io/bbolt"
)

// bucketUnreplicated holds the ids of changes a site's Raft leader stored before its
// log carried them (changes from peers are stored at once and appended to the log
// after). A replica that leads again appends them anew, so that its followers, which
// learn changes only from the log, do not miss them.
var bucketUnreplicated = []byte("unreplicated")

// MarkUnreplicated records ids as not yet in the Raft log. Call it before storing the
// changes: a crash in between leaves a mark for a change that is not stored, which the
// caller drops when it finds nothing to append.
func (s *Store) MarkUnreplicated(ids [][32]byte) error {
	return s.updateMarks(ids, true)
}

// Replicated forgets the marks of ids, now in the log.
func (s *Store) Replicated(ids [][32]byte) error {
	return s.updateMarks(ids, false)
}

func (s *Store) updateMarks(ids [][32]byte, mark bool) error {
	if len(ids) == 0 {
		return nil
	}
	return s.wrap(s.guard(nil, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketUnreplicated)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if mark {
					err = b.Put(id[:], nil)
				} else {
					err = b.Delete(id[:])
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}))
}

// Unreplicated returns the ids marked and not yet forgotten, in id order.
func (s *Store) Unreplicated() ([][32]byte, error) {
	var out [][32]byte
	err := s.guard(nil, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketUnreplicated)
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, _ []byte) error {
				var id [32]byte
				copy(id[:], k)
				out = append(out, id)
				return nil
			})
		})
	})
	return out, s.wrap(err)
}
