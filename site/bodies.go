package site

import (
	"fmt"

	"atoll/crdt"
	"atoll/site/store"
)

// restoreStore loads every record of st into rep, then replaces header-only the records
// that hold bodies rep no longer holds: a charter change stored after them took the site
// out of their bound, in a release that kept the bodies on disk, or before the records
// were persisted again. The replacement compacts the file at the next Open (store.Save).
func restoreStore(st *store.Store, rep *crdt.Replica) error {
	sizes := map[crdt.Hash]int{} // of the records of changes with sealed bodies
	err := st.Load(func(rec store.Record) error {
		if err := rep.Restore(rec.Data); err != nil {
			return err
		}
		if id := crdt.Hash(rec.ID); rep.Bound(id) != nil {
			sizes[id] = len(rec.Data)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var recs []store.Record
	for id, n := range sizes {
		if env, _ := rep.Envelope(id); len(env) != n {
			recs = append(recs, store.Record{ID: id, Data: env})
		}
	}
	if _, err := st.Save(recs); err != nil {
		return fmt.Errorf("dropping bodies the charter no longer allows: %w", err)
	}
	return nil
}
