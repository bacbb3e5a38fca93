package store

import "fmt"

// rekey re-seals under the key every value of the sealed buckets that opens under the
// previous key (Options.PreviousKey), batch records per transaction, after a rotation
// of the site's identity; compactSealed then writes the key's check. Until then the
// file's key check is the previous key's, so an interrupted re-sealing is found again
// by the next Open with both keys, which resumes it: a record that opens under the key
// is done. after is called as in migrate.
func (s *Store) rekey(batch int, after func(batches int) error) error {
	return s.sealAll(batch, after, func(bucket, key, v []byte) ([]byte, error) {
		p, err := s.prev.Open(string(bucket), key, v)
		if err != nil {
			return nil, fmt.Errorf("under neither the key nor the previous key: %w", err)
		}
		return p, nil
	}, "re-sealing under the new key")
}
