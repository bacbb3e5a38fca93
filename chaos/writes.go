package chaos

import (
	"fmt"
	"strings"

	"atoll/crdt"
)

// write makes one random valid write at a correct node, acknowledges it and pushes it: a
// change, or a soft record of its own clusters or statuses (soft.go).
func (s *sim) write(n *node) {
	s.follow(n)
	var (
		author = n.signer
		ops    []crdt.Op
		bodies [][]byte
		bound  []string
	)
	set := func(kind crdt.Kind, key, field, value string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: kind, Key: key, Field: field, Value: []byte(value)}
	}
	wl := fmt.Sprintf("w%d", s.rng.IntN(8))
	cluster := fmt.Sprintf("c%d", s.rng.IntN(2))
	switch r := s.rng.IntN(100); {
	case r < 40:
		// Status is soft: one record per object, for the workloads this site knows.
		if _, live := n.rep.Object(crdt.KindWorkload, crdt.WorkloadKey("shop", wl)); !live {
			return
		}
		key := crdt.StatusKey("shop", wl, n.name, cluster)
		vals := map[string]string{"ready": fmt.Sprint(s.rng.IntN(10))}
		if s.rng.IntN(4) == 0 {
			vals["available"] = fmt.Sprint(s.rng.IntN(10))
		}
		fields := softFields(n, crdt.KindStatus, key, vals)
		if s.rng.IntN(10) == 0 {
			fields = nil // the site withdraws the status (its pods are gone)
		}
		s.writeSoft(n, crdt.KindStatus, key, fields)
		return
	case r < 55:
		key := crdt.ClusterKey(n.name, cluster)
		if s.rng.IntN(4) == 0 { // labels are hard state: they stay in the DAG
			ops = []crdt.Op{set(crdt.KindCluster, key, "labels/rack", fmt.Sprint(s.rng.IntN(4)))}
			break
		}
		s.writeSoft(n, crdt.KindCluster, key, softFields(n, crdt.KindCluster, key, map[string]string{
			"health":        []string{"ok", "degraded", "down"}[s.rng.IntN(3)],
			"available/cpu": fmt.Sprint(s.rng.IntN(64000)),
		}))
		return
	case r < 75:
		author = s.operatorKey(n.rep.Charter(), s.rng.IntN(2))
		key := crdt.WorkloadKey("shop", wl)
		ops = []crdt.Op{set(crdt.KindWorkload, key, "replicas", fmt.Sprint(1+s.rng.IntN(9))),
			set(crdt.KindWorkload, key, "template", fmt.Sprintf(`{"image":"shop:%d"}`, s.rng.IntN(100)))}
	case r < 82:
		author = s.operatorKey(n.rep.Charter(), 1)
		key := crdt.WorkloadKey("shop", wl)
		if s.rng.IntN(2) == 0 {
			ops = []crdt.Op{{Type: crdt.OpRemove, Kind: crdt.KindWorkload, Key: key}}
		} else {
			ops = []crdt.Op{{Type: crdt.OpDelete, Kind: crdt.KindWorkload, Key: key, Field: "replicas"}}
		}
	case r < 92:
		// A workload bounded to this site's jurisdiction, written at this site.
		author = s.operatorKey(n.rep.Charter(), 1)
		key := crdt.WorkloadKey("bank", "ledger-"+strings.ToLower(n.jur))
		body := []byte(fmt.Sprintf(`{"image":"ledger:%d","env":{"SECRET":"%d"}}`, s.rng.IntN(100), s.rng.Uint32()))
		bound = []string{n.jur}
		ops = []crdt.Op{set(crdt.KindWorkload, key, "bound", n.jur), set(crdt.KindWorkload, key, "replicas", "3"),
			crdt.SealOp(crdt.KindWorkload, key, "template", body)}
		bodies = [][]byte{body}
	default:
		ops = []crdt.Op{set(crdt.KindSite, n.name, "version", fmt.Sprintf("1.%d", s.rng.IntN(50)))}
	}
	if author == nil {
		return
	}
	env, err := s.coreWrite(n, author, ops, bodies, bound)
	if err != nil {
		panic(fmt.Sprintf("chaos: seed %d: %s: a correct write was refused: %v", s.cfg.Seed, n.name, err))
	}
	s.writeBytes = append(s.writeBytes, len(env.Encode()))
	if len(bound) > 0 {
		s.bodies[env.ID] = bound
	}
}

// ack acknowledges what node n holds, as a site's ack loop does (site/ack.go), so that
// changes become stable and replicas compact them. Byzantine sites acknowledge too: one
// that never did would only stall stability, which the simulator does not need to show.
func (s *sim) ack(n *node) {
	s.follow(n)
	if _, err := s.coreWrite(n, n.signer, crdt.AckOps(n.name, "1.0"), nil, nil); err != nil {
		if n.byz {
			return
		}
		panic(fmt.Sprintf("chaos: seed %d: %s: an acknowledgement was refused: %v", s.cfg.Seed, n.name, err))
	}
}
