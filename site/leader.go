package site

import (
	"atoll/site/core"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"atoll/site/transport"
)

// Leading: what only the replica speaking for the site runs (ADR 0004). A site of one
// replica leads from Run to its end. A replica under Raft leads while Raft says so: it
// starts the leader's services when it gains leadership and stops them in-process when
// it loses it, then waits to lead again; the process, its transport, Raft and the read
// API stay up throughout.

// leading is the leader's services while they run.
type leading struct {
	cancel context.CancelFunc
	group  sync.WaitGroup // the leader's goroutines (also counted in Site.wg)
}

// mlTransport is the transport as one memberlist instance sees it. memberlist shuts its
// transport down with itself; a replica that stops leading shuts memberlist down but
// keeps the transport, which carries Raft, sessions and pushes, for the next time it
// leads (Run shuts it down at the end).
type mlTransport struct{ *transport.Transport }

func (mlTransport) Shutdown() error { return nil }

// startLeader joins the federation and starts what only the replica speaking for the
// site runs: membership, push and anti-entropy, member clusters, reconciliation.
func (s *Site) startLeader(ctx context.Context) (*leading, error) {
	tr := s.trans
	mc := s.cfg.memberlistConfig()
	mc.Name = s.nodeName()
	mc.Transport = mlTransport{tr}
	mc.UDPBufferSize -= transport.PacketOverhead // keep signed packets within one datagram
	mc.DeadNodeReclaimTime = time.Millisecond    // a new leader of a site may come back from another address
	mc.Delegate = delegate{s}
	mc.Events = liveness{s}
	mc.Logger = slog.NewLogLogger(memberlistLog{s.log.With("component", "memberlist").Handler(), &s.counter}, slog.LevelDebug)
	ip, port := tr.Addr()
	mc.BindAddr, mc.BindPort = ip.String(), port
	// What other sites are told: advertise if set (a pod's IP, a load balancer's address
	// in front of it), else the bound address.
	aip, aport, err := tr.FinalAdvertiseAddr("", 0)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	mc.AdvertiseAddr, mc.AdvertisePort = aip.String(), aport
	// A new leader has seen no site yet, nor lost one: the startup grace runs again
	// (aliveView), so that it takes over no share before membership had its chance.
	s.do(s.step(func(c *core.Core) { c.Lead(time.Now()) }))
	// Nothing is observed yet: what this site reported before may be stale (unobserved.go).
	if n, err := s.reportUnobserved(); err != nil {
		s.log.Warn("reporting the clusters' workloads unobserved", "err", err)
	} else if n > 0 {
		s.log.Info("reported workloads unobserved until the first pass", "status", n)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	s.ml = ml
	ctx, cancel := context.WithCancel(ctx)
	l := &leading{cancel: cancel}
	run := func(loop func(context.Context)) {
		s.wg.Add(1) // the loop calls s.wg.Done
		l.group.Add(1)
		go func() {
			defer l.group.Done()
			loop(ctx)
		}()
	}
	run(s.syncLoop)
	run(s.metaLoop)
	run(s.refreshLoop)
	run(s.joinLoop)
	run(s.probeLoop)
	if !s.cfg.Observer {
		run(s.clustersLoop)
		run(s.reconcileLoop)
	}
	if s.cfg.KubeAPI != nil {
		run(s.kubeAPILoop)
	}
	if s.raft != nil {
		run(s.replicateLoop)
	}
	s.serving.Store(true)
	if !s.cfg.Observer {
		s.publishRelease()
	}
	return l, nil
}

// stepDown stops the leader's services and leaves the federation's membership; the
// replica goes on as a follower. Changes stored meanwhile stay marked unreplicated, for
// whichever replica leads next (core.Lead).
func (s *Site) stepDown(l *leading) {
	s.serving.Store(false)
	s.mu.Lock()
	s.core.StepDown()
	s.mu.Unlock()
	l.cancel()
	l.group.Wait()
	_ = s.ml.Leave(s.cfg.Tuning.LeaveTimeout)
	_ = s.ml.Shutdown()
	s.ml = nil
	s.stopPeers()
}

// followLeadership leads the site whenever Raft makes this replica its leader, until ctx
// ends. Losing leadership (a partition from the other replicas, a stall on a loaded
// host) steps down in-process.
func (s *Site) followLeadership(ctx context.Context) error {
	ch := s.raft.LeaderCh()
	for {
		select {
		case <-ctx.Done():
			return nil
		case isLeader := <-ch:
			if !isLeader {
				continue
			}
		}
		s.log.Info("this replica leads the site", "id", s.cfg.Replica.ID)
		l, err := s.startLeader(ctx)
		if err != nil {
			return err
		}
		s.metrics.leaderships.Inc()
		select {
		case <-ctx.Done():
			return nil
		case isLeader := <-ch:
			if !isLeader {
				s.log.Warn("lost the site's leadership; stepping down to follower", "id", s.cfg.Replica.ID)
				s.stepDown(l)
				s.events.add("site", s.cfg.Name, "replica "+s.cfg.Replica.ID+" stepped down: it lost the site's leadership")
			}
		}
	}
}
