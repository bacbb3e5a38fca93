package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func openRaft(t *testing.T, path string) (*Store, Raft) {
	t.Helper()
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return s, s.Raft()
}

func TestRaftLogStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "atoll.db")
	s, r := openRaft(t, path)
	if f, err := r.FirstIndex(); err != nil || f != 0 {
		t.Fatalf("FirstIndex of an empty log = %d, %v", f, err)
	}
	at := time.Unix(1700000000, 123456789)
	var logs []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		l := &raft.Log{Index: i, Term: 1 + i/4, Type: raft.LogCommand, Data: []byte(fmt.Sprint("cmd", i)), AppendedAt: at}
		if i == 3 {
			l.Type, l.Extensions, l.Data = raft.LogConfiguration, []byte{1, 2}, nil
		}
		logs = append(logs, l)
	}
	if err := r.StoreLogs(logs[:9]); err != nil {
		t.Fatal(err)
	}
	if err := r.StoreLog(logs[9]); err != nil {
		t.Fatal(err)
	}
	check := func(r Raft, first, last uint64) {
		t.Helper()
		f, err1 := r.FirstIndex()
		l, err2 := r.LastIndex()
		if f != first || l != last || err1 != nil || err2 != nil {
			t.Fatalf("first %d last %d (%v %v), want %d %d", f, l, err1, err2, first, last)
		}
		for i := first; i <= last; i++ {
			var got raft.Log
			if err := r.GetLog(i, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&got, logs[i-1]) {
				t.Fatalf("log %d = %+v, want %+v", i, got, *logs[i-1])
			}
		}
	}
	check(r, 1, 10)
	if err := r.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	if err := r.GetLog(3, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog of a deleted entry: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, r = openRaft(t, path)
	defer s.Close()
	check(r, 6, 10)
}

func TestRaftStableStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "atoll.db")
	s, r := openRaft(t, path)
	if _, err := r.Get([]byte("x")); err == nil || err.Error() != "not found" {
		t.Fatalf("Get of a missing key: %v; raft needs exactly \"not found\"", err)
	}
	if _, err := r.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("GetUint64 of a missing key: %v", err)
	}
	if err := r.SetUint64([]byte("CurrentTerm"), 42); err != nil {
		t.Fatal(err)
	}
	if err := r.Set([]byte("LastVoteCand"), []byte("s1")); err != nil {
		t.Fatal(err)
	}
	if err := r.Set([]byte("bad"), []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, r = openRaft(t, path)
	defer s.Close()
	if v, err := r.GetUint64([]byte("CurrentTerm")); v != 42 || err != nil {
		t.Fatalf("after reopen: %d, %v", v, err)
	}
	if v, err := r.Get([]byte("LastVoteCand")); string(v) != "s1" || err != nil {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
	if _, err := r.GetUint64([]byte("bad")); err == nil {
		t.Fatal("GetUint64 of a 2-byte value succeeded")
	}
	// The change store in the same file is untouched.
	if n, err := s.Len(); err != nil || n != 0 {
		t.Fatalf("changes: %d, %v", n, err)
	}
}

func TestRaftLogCorrupt(t *testing.T) {
	var l raft.Log
	for _, b := range [][]byte{nil, {2}, {1}, {1, 1}, {1, 1, 1, 5, 'a'}, append(encodeLog(&raft.Log{Term: 1}), 0)} {
		if err := decodeLog(7, b, &l); err == nil {
			t.Errorf("decodeLog(% x) accepted", b)
		}
	}
}

// counter is a Raft state machine adding up uint64 commands.
type counter struct {
	mu  sync.Mutex
	sum uint64
}

func (c *counter) Apply(l *raft.Log) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sum += binary.BigEndian.Uint64(l.Data)
	return c.sum
}
func (c *counter) value() uint64 { c.mu.Lock(); defer c.mu.Unlock(); return c.sum }
func (c *counter) Snapshot() (raft.FSMSnapshot, error) {
	return nil, errors.New("counter: snapshots not needed in this test")
}
func (c *counter) Restore(io.ReadCloser) error { return errors.New("counter: no snapshots") }

type replica struct {
	id    raft.ServerAddress
	path  string
	st    *Store
	fsm   *counter
	r     *raft.Raft
	trans *raft.InmemTransport
}

// TestRaftReplicas runs three real Raft replicas whose logs and votes live in bbolt
// files: commands commit, the leader is lost and another takes over, and the old leader
// restarts from its file and catches up.
func TestRaftReplicas(t *testing.T) {
	dir := t.TempDir()
	reps := make([]*replica, 3)
	var servers []raft.Server
	for i := range reps {
		id := raft.ServerAddress(fmt.Sprint("r", i))
		reps[i] = &replica{id: id, path: filepath.Join(dir, string(id)+".db")}
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: id})
	}
	start := func(rp *replica, bootstrap bool) {
		t.Helper()
		st, err := Open(rp.path, Options{Key: testKey})
		if err != nil {
			t.Fatal(err)
		}
		_, trans := raft.NewInmemTransport(rp.id)
		for _, o := range reps {
			if o != rp && o.trans != nil {
				trans.Connect(o.id, o.trans)
				o.trans.Connect(rp.id, trans)
			}
		}
		cfg := raft.DefaultConfig()
		cfg.LocalID = raft.ServerID(rp.id)
		// Timeouts a loaded 2-core machine keeps (the leader steps down when its lease lapses).
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
		cfg.CommitTimeout, cfg.SnapshotThreshold = 5*time.Millisecond, 1<<30
		cfg.LogOutput = io.Discard
		rp.st, rp.fsm, rp.trans = st, &counter{}, trans
		r, err := raft.NewRaft(cfg, rp.fsm, st.Raft(), st.Raft(), raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatal(err)
		}
		rp.r = r
		if bootstrap {
			if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop := func(rp *replica) {
		if err := rp.r.Shutdown().Error(); err != nil {
			t.Fatal(err)
		}
		for _, o := range reps {
			if o != rp && o.trans != nil {
				o.trans.Disconnect(rp.id)
			}
		}
		rp.trans = nil
		rp.st.Close()
	}
	for _, rp := range reps {
		start(rp, true)
	}
	t.Cleanup(func() {
		for _, rp := range reps {
			if rp.trans != nil {
				stop(rp)
			}
		}
	})
	leader := func() *replica {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for _, rp := range reps {
				if rp.trans != nil && rp.r.State() == raft.Leader {
					return rp
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no leader within 10s")
		return nil
	}
	apply := func(n int) {
		t.Helper()
		l := leader()
		for range n {
			if err := l.r.Apply(binary.BigEndian.AppendUint64(nil, 1), 5*time.Second).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitSum := func(rp *replica, want uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for rp.fsm.value() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: sum %d, want %d", rp.id, rp.fsm.value(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	apply(50)
	old := leader()
	stop(old)
	apply(50)
	for _, rp := range reps {
		if rp != old {
			waitSum(rp, 100)
		}
	}
	start(old, false) // from its file: its term, vote and 50+ entries
	if last, err := old.st.Raft().LastIndex(); err != nil || last < 50 {
		t.Fatalf("restarted replica's log ends at %d (%v)", last, err)
	}
	waitSum(old, 100)
}
