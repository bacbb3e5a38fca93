package site

import (
	"strconv"

	"atoll/crdt"
)

// A leader that starts has observed none of its clusters yet. What its site reported
// before (this process before a restart, another replica before a change of leader) may
// no longer hold: the region may have lost its Deployments meanwhile. Other sites keep the
// replicas they took over until this site's clusters report theirs ready
// (make-before-break), so a stale "ready" would make them let go before anything runs
// here. A new leader therefore first reports every workload of its clusters as not ready;
// its first pass reports what it observes. Schedule.Settle, after which a returning site
// counts as alive at the others, gives these reports the time to reach them (a peer that
// comes back is offered a soft session within Tuning.SoftEvery).

// reportUnobserved writes ready 0 into every status record of this site that says more,
// and returns how many it wrote.
func (s *Site) reportUnobserved() (int, error) {
	var ops []crdt.Op
	s.mu.Lock()
	s.rep.EachStatus(func(key string, obj crdt.StatusFields) {
		if _, site, _, ok := splitStatus(key); !ok || site != s.cfg.Name {
			return
		}
		if n, _ := strconv.Atoi(string(obj.Get("ready"))); n == 0 {
			return
		}
		ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: key, Field: "ready", Value: []byte("0")})
	})
	s.mu.Unlock()
	if len(ops) == 0 {
		return 0, nil
	}
	_, n, err := s.record(ops)
	return n, err
}
