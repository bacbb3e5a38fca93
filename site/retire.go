package site

import (
	"context"
	"errors"
	"fmt"

	"atoll/crdt"
	"atoll/site/kube"
)

// ErrRemoved is returned by writes of a site that the charter no longer lists: an
// amendment removed it, and it writes nothing more.
var ErrRemoved = errors.New("this site was removed from the charter: it writes nothing")

// removedLocked reports whether an amendment removed this site from the charter: the
// charter does not list its name, and a charter change deleted its key. A site that
// joins (site.yaml join: true) and is not listed yet was never removed. mu must be held.
func (s *Site) removedLocked() bool {
	if s.cfg.Observer {
		return false
	}
	ch := s.rep.Charter()
	if _, ok := ch.SiteByName(s.cfg.Name); ok {
		return false
	}
	field := "site/" + s.cfg.Name + "/key"
	removed := false
	s.rep.CharterChanges(func(_ crdt.Hash, b []byte) bool {
		env, err := crdt.DecodeEnvelope(b)
		if err != nil {
			return true
		}
		for _, op := range env.Change.Ops {
			if op.Field == field && op.Type == crdt.OpDelete {
				removed = true
				return false
			}
		}
		return true
	})
	return removed
}

// removed is removedLocked, taking mu.
func (s *Site) removed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removedLocked()
}

// retire is the reconcile pass of a removed site: it deletes what Atoll created in every
// member cluster it has joined, healthy or not, and writes nothing (its changes would be
// refused everywhere). It runs every pass, so a cluster that was down is cleaned once it
// answers (the pass fails until then, and is retried with backoff); when there is
// nothing left, Prune lists the kinds the site applied, and every kind the cluster
// serves once per resync period.
func (s *Site) retire(ctx context.Context, appliers map[string]*kube.Applier) error {
	entries, err := s.kubes.List()
	if err != nil {
		return fmt.Errorf("member clusters: %w", err)
	}
	var errs []error
	for _, e := range entries {
		a := appliers[e.Name]
		if a == nil {
			cfg, err := s.kubes.Config(e.Name)
			if err == nil {
				a, err = kube.NewApplier(cfg, s.cfg.Resync.D(), s.log.With("cluster", e.Name))
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("member cluster client %s: %w", e.Name, err))
				continue
			}
			appliers[e.Name] = a
		}
		deleted, err := a.Prune(ctx, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("removed from the charter: cleaning %s: %w", e.Name, err))
		}
		if len(deleted) > 0 {
			s.log.Info("removed from the charter: deleted Atoll's objects", "cluster", e.Name, "objects", len(deleted))
			s.events.add("cluster", crdt.ClusterKey(s.cfg.Name, e.Name), fmt.Sprintf("removed from the charter: %d objects of Atoll deleted in %s", len(deleted), e.Name))
		}
	}
	return errors.Join(errs...)
}
