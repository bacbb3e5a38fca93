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
	var skels []crdt.Hash        // restored as skeletons, with sealed bodies
	err := st.LoadLive(func(rec store.Record) error {
		id := crdt.Hash(rec.ID)
		if rec.Skeleton {
			if err := rep.RestoreSkeleton(rec.Data); err != nil {
				return err
			}
			if rep.Bound(id) != nil {
				skels = append(skels, id)
			}
			return nil
		}
		if err := rep.Restore(rec.Data); err != nil {
			return err
		}
		if rep.Bound(id) != nil {
			sizes[id] = len(rec.Data)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var recs []store.Record
	for id, n := range sizes {
		if env, ok := rep.Envelope(id); ok && len(env) != n {
			recs = append(recs, store.Record{ID: id, Data: env})
		}
	}
	for _, id := range skels { // their records were not read: read those that must shrink
		if rep.HoldsBodies(id) {
			continue
		}
		if data, ok, err := st.Get(id); err == nil && ok {
			if env, err := crdt.DecodeEnvelope(data); err == nil && len(env.Bodies) > 0 {
				recs = append(recs, store.Record{ID: id, Data: env.EncodeHeaderOnly()})
			}
		}
	}
	if _, err := st.Save(recs); err != nil {
		return fmt.Errorf("dropping bodies the charter no longer allows: %w", err)
	}
	return storeSkeletons(st, rep)
}
