package chaos

import (
	"errors"
	"fmt"
	"slices"

	"atoll/crdt"
)

// Report is the outcome of one seed.
type Report struct {
	Seed            uint64     `json:"seed"`
	Converged       bool       `json:"converged"`
	Rounds          int        `json:"rounds_to_converge"`
	Writes          int        `json:"writes"`
	Changes         int        `json:"changes"`
	Rejected        int        `json:"rejected"`
	Amendments      int        `json:"amendments"`
	Void            int        `json:"void"`      // changes a correct replica holds void (revoked keys, backdated)
	Stable          int        `json:"stable"`    // changes a correct replica holds stable (every site acknowledged them)
	Skeletons       int        `json:"skeletons"` // changes a correct replica compacted to skeletons
	BytesPerChange  float64    `json:"bytes_per_change"`
	SyncRatios      []float64  `json:"-"` // bytes / payload of each quiescence session that moved changes
	SyncInTarget    int        `json:"sync_sessions_in_target"`
	NetworkMessages int        `json:"network_messages"`
	NetworkBytes    int        `json:"network_bytes"`
	Soft            SoftReport `json:"soft"`
	Failure         string     `json:"failure,omitempty"`
	Digests         []string   `json:"digests,omitempty"` // per site, when it failed
}

// SoftReport counts soft state over a run, at correct sites.
type SoftReport struct {
	Written  int `json:"written"`  // records the sites wrote
	Pushed   int `json:"pushed"`   // records pushed to a peer (on write, or relayed when first held)
	Stored   int `json:"stored"`   // records a replica received and held (pushed or by a session)
	Held     int `json:"held"`     // records each replica holds at the end
	Rejected int `json:"rejected"` // records refused: forged, malformed, signed by a key not in force
	Sessions int `json:"sessions"` // soft sessions that ended well
	Failed   int `json:"failed"`   // soft sessions ended by a lost, repeated or hostile frame
	Buckets  int `json:"buckets"`  // writers compared bucket by bucket (equivocations, drops)
	BytesIn  int `json:"bytes_in"` // bytes of soft session frames received
}

func (r SoftReport) String() string {
	return fmt.Sprintf("soft: %d written, %d pushed, %d stored, %d held, %d rejected, %d sessions (%d failed), %d bucket comparisons",
		r.Written, r.Pushed, r.Stored, r.Held, r.Rejected, r.Sessions, r.Failed, r.Buckets)
}

// Run simulates one seed. It returns an error only when the run could not be set up;
// a broken invariant is a Report with Converged false and Failure saying what broke.
func Run(cfg Config) (Report, error) {
	s, err := newSim(cfg)
	if err != nil {
		return Report{}, err
	}
	defer s.close()
	rep := Report{Seed: cfg.Seed}
	s.chaos()
	s.heal()
	rep.Rounds, rep.Converged = s.quiesce()
	if rep.Converged {
		if err := s.check(); err != nil {
			rep.Converged, rep.Failure = false, err.Error()
		}
	} else {
		rep.Failure = fmt.Sprintf("not converged after %d rounds", s.cfg.MaxRounds)
	}
	if !rep.Converged {
		for _, n := range s.nodes {
			if n.rep != nil {
				held, orphans := n.rep.SoftLen()
				rep.Digests = append(rep.Digests, fmt.Sprintf("%s byz=%v %s soft=%s held=%d orphans=%d", n.name, n.byz, n.rep, n.rep.SoftDigest(), held, orphans))
			}
		}
	}
	rep.Writes = len(s.writeBytes)
	rep.Changes = s.correct()[0].rep.Len()
	rep.Rejected = s.rejected
	rep.Amendments, rep.Void = s.amendments, s.correct()[0].rep.VoidLen()
	rep.Stable, rep.Skeletons = s.correct()[0].rep.StableLen(), s.correct()[0].rep.SkeletonLen()
	total := 0
	for _, b := range s.writeBytes {
		total += b
	}
	if rep.Writes > 0 {
		rep.BytesPerChange = float64(total) / float64(rep.Writes)
	}
	rep.SyncRatios, rep.SyncInTarget = s.ratios, s.withinTarget
	rep.NetworkMessages, rep.NetworkBytes = s.net.sent, s.net.bytes
	st := s.softStats
	held, _ := s.correct()[0].rep.SoftLen()
	rep.Soft = SoftReport{Written: st.written, Pushed: st.pushed, Stored: st.stored, Held: held, Rejected: st.rejected,
		Sessions: st.sessions, Failed: st.failed, Buckets: st.buckets, BytesIn: st.bytesIn}
	return rep, nil
}

func (s *sim) close() {
	for _, n := range s.nodes {
		if n.st != nil {
			n.st.Close()
		}
	}
}

// chaos runs the first phase: writes, push, anti-entropy, faults and attacks.
func (s *sim) chaos() {
	s.net.f = faults{drop: 0.05, duplicate: 0.05, maxDelay: 3}
	for _, n := range s.correct() {
		s.bootClusters(n)
	}
	for s.tick = 0; s.tick < s.cfg.Ticks; s.tick++ {
		s.faultEvent()
		for _, n := range s.nodes {
			if n.rep == nil {
				continue
			}
			s.expire(n)
			s.meet(n)
			switch {
			case s.rng.IntN(4) == 0 && n.rep.NeedsAck(n.name):
				s.ack(n)
			case n.byz && s.rng.IntN(6) == 0:
				s.backdate(n)
			case n.byz && s.rng.IntN(3) == 0:
				s.attack(n)
			case n.byz && s.rng.IntN(2) == 0:
				s.softAttack(n)
			case !n.byz && s.rng.IntN(400) == 0:
				s.amend(n)
			case !n.byz && s.rng.IntN(8) == 0:
				s.write(n)
			}
			if s.rng.IntN(5) == 0 {
				s.advertise(n)
			}
			for _, peer := range n.core.Due(s.now()) {
				s.startSync(n, s.index[peer], false)
			}
			if n.soft.outgoing == 0 && s.rng.IntN(5) == 0 {
				s.startSoft(n, s.peers(n, 1)[0])
			}
		}
		for _, m := range s.net.due(s.tick) {
			s.deliver(m)
		}
	}
}

// faultEvent may partition, isolate, heal, crash or restart.
func (s *sim) faultEvent() {
	switch r := s.rng.IntN(100); {
	case r < 3:
		s.net.partition(2 + s.rng.IntN(2))
	case r < 5:
		s.net.isolate(s.rng.IntN(len(s.nodes)))
	case r < 8:
		s.net.heal()
	case r < 11:
		if n := s.nodes[s.rng.IntN(len(s.nodes))]; n.rep != nil && !n.byz && s.down() < len(s.nodes)/3 {
			s.crash(n)
		}
	case r < 15:
		for _, n := range s.nodes {
			if n.rep == nil {
				s.mustStart(n)
				break
			}
		}
	}
}

func (s *sim) down() int {
	d := 0
	for _, n := range s.nodes {
		if n.rep == nil {
			d++
		}
	}
	return d
}

func (s *sim) mustStart(n *node) {
	if err := s.start(n); err != nil {
		panic(fmt.Sprintf("chaos: seed %d: %v", s.cfg.Seed, err))
	}
}

// heal ends partitions and losses and restarts every crashed replica; messages in
// flight are still delivered.
func (s *sim) heal() {
	s.healing = true
	s.net.heal()
	s.net.f = faults{}
	for _, n := range s.nodes {
		if n.rep == nil {
			s.mustStart(n)
		}
	}
	for len(s.net.inflight) > 0 {
		s.tick++
		for _, m := range s.net.due(s.tick) {
			s.deliver(m)
		}
	}
	for _, n := range s.nodes {
		for sid := range n.sessions {
			s.endSession(n, sid)
		}
		s.endSoftSessions(n)
	}
}

// quiesce runs rounds of one anti-entropy session per correct replica until every
// correct replica agrees. Byzantine replicas keep sending junk meanwhile.
func (s *sim) quiesce() (int, bool) {
	for round := 0; round <= s.cfg.MaxRounds; round++ {
		if s.agreed() {
			return round, true
		}
		for _, n := range s.nodes {
			switch {
			case n.byz && s.rng.IntN(2) == 0:
				s.attack(n)
			case n.byz && s.rng.IntN(2) == 0:
				s.softAttack(n)
			case !n.byz:
				if n.outgoing == 0 {
					s.startSync(n, s.syncPeer(n), true)
				}
				if n.soft.outgoing == 0 {
					s.startSoft(n, s.peers(n, 1)[0])
				}
			}
		}
		for len(s.net.inflight) > 0 {
			s.tick++
			for _, m := range s.net.due(s.tick) {
				s.deliver(m)
			}
		}
		for _, n := range s.nodes {
			s.expire(n)
		}
	}
	return s.cfg.MaxRounds, false
}

func (s *sim) agreed() bool {
	c := s.correct()
	d, h, sd := c[0].rep.Digest(), c[0].rep.Heads(), c[0].rep.SoftDigest()
	for _, n := range c {
		if n.rep.Digest() != d || !slices.Equal(n.rep.Heads(), h) || n.rep.Lacking() > 0 || n.rep.SoftDigest() != sd {
			return false
		}
	}
	return true
}

// check verifies the invariants after convergence.
func (s *sim) check() error {
	c := s.correct()
	var errs []error
	for _, n := range c {
		for id := range s.stored {
			if !n.rep.Has(id) {
				errs = append(errs, fmt.Errorf("%s lacks change %s that a correct replica stored", n.name, id))
				break
			}
		}
		for id, why := range s.invalid {
			if n.rep.Has(id) {
				errs = append(errs, fmt.Errorf("%s stored invalid change %s (%s)", n.name, id, why))
			}
		}
		for id, bound := range s.bodies {
			env, _ := n.rep.Envelope(id)
			e, err := crdt.DecodeEnvelope(env)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: sealed change %s: %v", n.name, id, err))
				continue
			}
			if inside := slices.Contains(bound, n.jur); inside != (len(e.Bodies) > 0) {
				errs = append(errs, fmt.Errorf("%s (%s) holds=%v the body of %s bounded to %v", n.name, n.jur, !inside, id, bound))
			}
		}
	}
	for _, n := range c {
		if err := s.checkRevoked(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.checkSoft(); err != nil {
		errs = append(errs, err)
	}
	// A fresh replica re-validates one correct store from scratch, signatures included.
	n := c[s.rng.IntN(len(c))]
	fresh, err := crdt.NewReplica(crdt.Config{Genesis: s.genesis, Self: n.signer.Public()})
	if err != nil {
		return err
	}
	n.rep.Changes(func(id crdt.Hash, env []byte) bool {
		if res := fresh.Receive(env); len(res.Rejected) > 0 || !fresh.Has(id) {
			errs = append(errs, fmt.Errorf("%s: stored change %s does not re-validate: %+v", n.name, id, res.Rejected))
			return false
		}
		return true
	})
	if fresh.Digest() != n.rep.Digest() {
		errs = append(errs, fmt.Errorf("%s: re-validated digest %s differs from %s", n.name, fresh.Digest(), n.rep.Digest()))
	}
	// The same store restarts: skeletons come back in place of their changes.
	digest, held, stable, skel := n.rep.Digest(), n.rep.Len(), n.rep.StableLen(), n.rep.SkeletonLen()
	s.crash(n)
	if err := s.start(n); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if n.rep.Digest() != digest || n.rep.Len() != held || n.rep.StableLen() != stable || n.rep.SkeletonLen() < skel {
		errs = append(errs, fmt.Errorf("%s: restarted from its store with %d changes (%d stable, %d skeletons, digest %s), before %d (%d, %d, %s)",
			n.name, n.rep.Len(), n.rep.StableLen(), n.rep.SkeletonLen(), n.rep.Digest(), held, stable, skel, digest))
	}
	return errors.Join(errs...)
}

// syncPeer picks an anti-entropy peer: random, but a replica missing sealed bodies asks
// a site of its own jurisdiction half of the time, since only those may hold them.
func (s *sim) syncPeer(n *node) int {
	if n.rep.Lacking() > 0 && s.rng.IntN(2) == 0 {
		var same []int
		for _, p := range s.nodes {
			if p != n && p.jur == n.jur {
				same = append(same, p.idx)
			}
		}
		if len(same) > 0 {
			return same[s.rng.IntN(len(same))]
		}
	}
	return s.peers(n, 1)[0]
}
