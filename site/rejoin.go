package site

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"
)

// A site keeps the federation whole in two ways. memberlist forgets a dead site after
// GossipToTheDeadTime, and it gossips to a dead site only while some membership news is
// queued, so the two sides of a partition that declared each other dead do not find
// each other again by themselves once it heals.
//
//   - joinLoop joins through the seeds at start, then every SyncConfig.Rejoin contacts
//     every charter site that is not live at its last known address (and the seeds if
//     some site was never seen): a sweep, which a blackholed address holds up for
//     memberlist's TCP timeout.
//   - probeLoop contacts one such site, chosen at random, every Tuning.RejoinProbe: a
//     healed partition is found within about that, whatever the sweep's period. One
//     probe is in flight at a time, so a site that stays down costs one failed dial per
//     probe, and a blackholed one a dial per TCP timeout.
//
// A join is a memberlist push-pull: each side learns the other's member list, and each
// site the other held dead refutes it, which gossip carries to the rest of both sides.

// joinLoop joins the federation through the seeds, then sweeps every Rejoin (above).
func (s *Site) joinLoop(ctx context.Context) {
	defer s.wg.Done()
	delay := s.cfg.Tuning.JoinBackoff
	for {
		addrs := s.rejoinAddrs()
		if len(addrs) > 0 {
			n, err := s.ml.Join(addrs)
			switch {
			case n > 0:
				s.log.Info("joined", "contacted", n, "tried", len(addrs))
			case len(s.live()) == 0:
				s.log.Warn("join failed, retrying", "addrs", addrs, "err", err, "in", delay)
			default:
				s.log.Debug("rejoin found no missing site", "addrs", addrs, "err", err)
			}
		}
		wait := s.sync.Rejoin.D()
		if len(s.live()) == 0 {
			wait, delay = delay, min(2*delay, s.cfg.Tuning.JoinBackoffMax)
		} else {
			delay = s.cfg.Tuning.JoinBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// rejoinAddrs returns where to look for the charter sites that are not live: their last
// known addresses, and the seeds when no site is live or some missing site was never seen.
func (s *Site) rejoinAddrs() []string {
	s.mu.Lock()
	out, unseen := s.core.Missing(s.siteNames())
	s.mu.Unlock()
	if unseen {
		out = append(out, s.cfg.Seeds...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// probeLoop joins one charter site that is not live, at random, every RejoinProbe
// (above). It does not use the seeds: the sweep does.
func (s *Site) probeLoop(ctx context.Context) {
	s.every(ctx, s.cfg.Tuning.RejoinProbe, nil, func() {
		s.mu.Lock()
		addrs, _ := s.core.Missing(s.siteNames())
		s.mu.Unlock()
		if len(addrs) == 0 {
			return
		}
		addr := addrs[rand.IntN(len(addrs))]
		if n, err := s.ml.Join([]string{addr}); n > 0 {
			s.log.Info("probe joined a site that was not live", "addr", addr)
		} else {
			s.log.Debug("probe found no site", "addr", addr, "err", err)
		}
	})
}
