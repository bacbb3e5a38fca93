package site

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/core"
	"atoll/site/transport"
)

// ReplicaConfig makes a site one of several replicas under Raft (docs/adr/0004).
type ReplicaConfig struct {
	ID    string        `json:"id"`    // this replica's id, one of Peers
	Peers []ReplicaPeer `json:"peers"` // every replica of the site, this one included
	// Heartbeat is Raft's heartbeat and election timeout (default 1s): a follower that
	// hears nothing from the leader for about this long starts an election, and a
	// leader that cannot reach a majority for this long steps down. Shorter fails over
	// faster when a replica dies; too short, and a leader on a loaded host (a stalled
	// process, a CPU-starved VM) loses leadership to a spurious election and the site
	// pauses while leadership moves. LeaderLease, Raft's leader lease, is half of it.
	// Default in DefaultReplicaConfig.
	Heartbeat Duration `json:"heartbeat,omitempty"`
}

// ReplicaPeer is one replica: its id and the host:port its replicas reach it at (its
// listen port; a DNS name such as a StatefulSet pod's is resolved at every dial).
type ReplicaPeer struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	// Advertise, if set, is the ip:port other sites reach this replica at while it leads
	// the site (its own load balancer, say); it overrides the site's advertise.
	Advertise string `json:"advertise,omitempty"`
}

// validate checks a replica section: unique peers, and this replica among them if set.
// Nil is valid.
func (rc *ReplicaConfig) validate() error {
	if rc == nil {
		return nil
	}
	ids := map[string]bool{}
	for _, p := range rc.Peers {
		if p.ID == "" || ids[p.ID] {
			return fmt.Errorf("replica peers: ids must be set and unique (%q)", p.ID)
		}
		ids[p.ID] = true
		if _, _, err := net.SplitHostPort(p.Address); err != nil {
			return fmt.Errorf("replica peer %s: address %q: %w", p.ID, p.Address, err)
		}
		if p.Advertise != "" {
			if _, err := netip.ParseAddrPort(p.Advertise); err != nil {
				return fmt.Errorf("replica peer %s: advertise %q: want ip:port: %w", p.ID, p.Advertise, err)
			}
		}
	}
	if h := rc.Heartbeat.D(); h != 0 && (h < 50*time.Millisecond || h > time.Minute) {
		return fmt.Errorf("replica heartbeat %v: want between 50ms and 1m", h)
	}
	if rc.ID != "" && !ids[rc.ID] { // unset in a file the replicas share: Runnable
		return fmt.Errorf("replica id %q is not one of the peers", rc.ID)
	}
	return nil
}

// chanRaft is the stream channel of Raft between a site's replicas.
const chanRaft byte = 'R'

// ErrNotLeader is returned for writes at a replica that is not the site's Raft leader.
var ErrNotLeader = errors.New("this replica is not the site's leader")

// ErrObserver answers any write to an observer.
var ErrObserver = errors.New("an observer is read-only")

// Log entry kinds.
const (
	entryChange byte = 'E' // an envelope
	entryJoin   byte = 'J' // a JoinRequest (JSON): credentials stay within the site
	entryUnjoin byte = 'U' // a cluster name
)

// raftLayer carries Raft over the site transport: only holders of the site's own key
// (its replicas) may dial or be dialled.
type raftLayer struct {
	s      *Site
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

type doneConn struct {
	*transport.Conn
	done chan struct{}
	once sync.Once
}

func (c *doneConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

func (l *raftLayer) serve(c *transport.Conn) {
	if c.Peer != l.s.cfg.Name {
		l.s.log.Warn("raft stream from another site refused", "peer", c.Peer)
		return
	}
	dc := &doneConn{Conn: c, done: make(chan struct{})}
	select {
	case l.ch <- dc:
	case <-l.closed:
		return
	}
	select {
	case <-dc.done:
	case <-l.closed:
	}
}

func (l *raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, errors.New("raft layer closed")
	}
}

func (l *raftLayer) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *raftLayer) Addr() net.Addr {
	ip, port := l.s.trans.Addr()
	return &net.TCPAddr{IP: ip, Port: port}
}

func (l *raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.s.trans.Dial(ctx, string(addr), l.s.cfg.Name, chanRaft)
}

// fsm applies the site's Raft log to this replica.
type fsm struct{ s *Site }

func (f fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) == 0 {
		return nil
	}
	s := f.s
	switch l.Data[0] {
	case entryChange:
		s.do(s.step(func(c *core.Core) { c.Applied(l.Data[1:]) }))
	case entryJoin:
		var req JoinRequest
		if err := json.Unmarshal(l.Data[1:], &req); err != nil {
			return err
		}
		if err := s.kubes.Join(req.entry(), []byte(req.Kubeconfig)); err != nil {
			return err
		}
		s.wakeClusters()
	case entryUnjoin:
		return s.kubes.Unjoin(string(l.Data[1:]))
	}
	return nil
}

// Snapshot is every change this replica holds; Restore receives them all.
func (f fsm) Snapshot() (raft.FSMSnapshot, error) {
	var envs [][]byte
	f.s.mu.Lock()
	f.s.rep.Changes(func(_ crdt.Hash, env []byte) bool { envs = append(envs, env); return true })
	f.s.mu.Unlock()
	return snapshot(envs), nil
}

func (f fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReader(rc)
	for {
		b, err := peering.ReadFrame(r, crdt.MaxEnvelopeBytes)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("raft snapshot: %w", err)
		}
		f.s.mu.Lock()
		f.s.persistLocal(f.s.rep.Receive(b))
		f.s.mu.Unlock()
	}
}

type snapshot [][]byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	for _, b := range s {
		if err := peering.WriteFrame(w, b); err != nil {
			sink.Cancel()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}

// startRaft starts this replica's Raft, bootstrapping the group on a fresh data file.
func (s *Site) startRaft() (*raft.Raft, *raftLayer, error) {
	rc := s.cfg.Replica
	layer := &raftLayer{s: s, ch: make(chan net.Conn), closed: make(chan struct{})}
	s.trans.Handle(chanRaft, layer.serve)
	s.trans.Handle(chanForward, s.serveForward)
	tr := raft.NewNetworkTransport(layer, s.cfg.Tuning.RaftPool, s.cfg.Tuning.RaftTimeout, io.Discard)
	cfg := raft.DefaultConfig()
	cfg.LocalID = raft.ServerID(rc.ID)
	cfg.LogOutput = io.Discard
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = rc.Heartbeat.D(), rc.Heartbeat.D()
	cfg.LeaderLeaseTimeout = rc.Heartbeat.D() / 2
	st := s.st.Raft()
	r, err := raft.NewRaft(cfg, fsm{s}, st, st, raft.NewInmemSnapshotStore(), tr)
	if err != nil {
		return nil, nil, fmt.Errorf("raft: %w", err)
	}
	if last, _ := st.LastIndex(); last == 0 {
		var servers []raft.Server
		for _, p := range rc.Peers {
			servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)})
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, nil, fmt.Errorf("raft bootstrap: %w", err)
		}
	}
	return r, layer, nil
}

// leader reports whether this replica may speak for the site.
func (s *Site) leader() bool { return s.raft == nil || s.raft.State() == raft.Leader }

// replicate appends entries to the Raft log and waits for them to commit. Without Raft
// it does nothing.
func (s *Site) replicate(kind byte, payloads ...[]byte) error {
	if s.raft == nil {
		return nil
	}
	var fs []raft.ApplyFuture
	for _, p := range payloads {
		fs = append(fs, s.raft.Apply(append([]byte{kind}, p...), s.cfg.Tuning.RaftApply))
	}
	for _, f := range fs {
		if err := f.Error(); err != nil {
			return fmt.Errorf("replicating to the site's replicas: %w", err)
		}
		if err, ok := f.Response().(error); ok && err != nil {
			return err
		}
	}
	return nil
}

// replicateLoop appends the changes received from peers to the Raft log, without
// waiting: they can also be fetched again from the federation.
func (s *Site) replicateLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.repWake:
		}
		s.mu.Lock()
		q := s.repQueue
		s.repQueue = nil
		s.mu.Unlock()
		for _, b := range q {
			s.raft.Apply(append([]byte{entryChange}, b...), 0)
		}
	}
}

// marked returns up to n changes this replica holds marked as not in the log (site/core,
// replicas.go), for forwardLoop.
func (s *Site) marked(n int) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Marked(n)
}
