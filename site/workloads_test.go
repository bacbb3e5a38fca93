package site

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/site/kube"
)

// countingWriter is the Site's own statusWriter, counting what passes wrote.
type countingWriter struct {
	s           *Site
	writes, ops int
	flushes     int
	lastOps     []crdt.Op
}

var _ statusWriter = (*countingWriter)(nil)

func (c *countingWriter) writeStatus(ops []crdt.Op) error {
	c.writes++
	c.ops += len(ops)
	c.lastOps = ops
	return c.s.writeStatus(ops)
}

func (c *countingWriter) flushAudit() error {
	c.flushes++
	return c.s.flushAudit()
}

// TestReconcilePassError runs real passes of an open site against a member cluster whose
// apiserver does not answer (its port is closed): a pass with the cluster healthy in the
// state fails and names the cluster, and keeps the Status objects of what it could not
// prune there (the cluster may still run it); a pass without it, or without any cluster,
// is clean, and removes them.
func TestReconcilePassError(t *testing.T) {
	s, _, _, _ := openTestSite(t)
	appliers := map[string]*kube.Applier{}
	defer func() {
		for _, a := range appliers {
			a.Stop()
		}
	}()
	w := &countingWriter{s: s}
	pass := func() error {
		t.Helper()
		_, err := s.reconcile(t.Context(), appliers, w)
		return err
	}

	if err := pass(); err != nil {
		t.Fatalf("a pass without clusters: %v", err)
	}
	if w.writes != 0 || w.flushes != 1 {
		t.Fatalf("a pass without clusters wrote status %d times, flushed audit %d times; want 0, 1", w.writes, w.flushes)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	kc := strings.Replace(testKubeconfig, "127.0.0.1:6443", closed, 1)
	if err := s.kubes.Join(kube.Entry{Name: "k0"}, []byte(kc)); err != nil {
		t.Fatal(err)
	}
	health := func(v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey("a", "k0"), Field: "health", Value: []byte(v)}
	}
	// A Status this site once published in k0 for a workload that is gone: a pass that
	// cannot prune k0 keeps it.
	stale := crdt.StatusKey("web", "gone", "a", "k0")
	if _, err := s.Write([]crdt.Op{health("healthy"), {Type: crdt.OpSet, Kind: crdt.KindStatus, Key: stale, Field: "desired", Value: []byte("2")}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.clustersReady(); err != nil || !slices.Equal(got, []string{"k0"}) {
		t.Fatalf("clusters ready: %v, %v", got, err)
	}

	err = pass()
	t.Logf("failed pass: %v", err)
	if err == nil || !strings.Contains(err.Error(), "k0") {
		t.Fatalf("a pass with k0 unreachable: %v, want an error naming k0", err)
	}
	if w.writes != 0 {
		t.Fatalf("the failed pass wrote status %d times, last %+v; want none: %s may still run in k0", w.writes, w.lastOps, stale)
	}
	if _, ok := appliers["k0"]; !ok {
		t.Fatal("the failed pass kept no applier for k0")
	}

	if err := pass(); err == nil {
		t.Fatal("a second pass with k0 unreachable is clean")
	}
	if w.writes != 0 || w.flushes != 3 {
		t.Fatalf("after the second failed pass: status written %d times, audit flushed %d times; want 0, 3", w.writes, w.flushes)
	}

	// k0 unhealthy: the pass leaves it alone, is clean, and removes the Status object of
	// a cluster it no longer places in.
	if _, err := s.Write([]crdt.Op{health("unhealthy")}); err != nil {
		t.Fatal(err)
	}
	if err := pass(); err != nil {
		t.Fatalf("a pass without a healthy cluster: %v", err)
	}
	if len(appliers) != 0 || w.writes != 1 || len(w.lastOps) != 1 || w.lastOps[0].Type != crdt.OpRemove || w.lastOps[0].Key != stale {
		t.Fatalf("after the clean pass: appliers %v, status written %d times, last %+v; want none, once, the remove of %s", appliers, w.writes, w.lastOps, stale)
	}

	// A pass whose context is done stops with its error (which the loop does not retry:
	// it returns) and writes nothing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	flushes := w.flushes
	if _, err := s.reconcile(ctx, appliers, w); !errors.Is(err, context.Canceled) || w.writes != 1 || w.flushes != flushes {
		t.Fatalf("a pass with its context done: %v, status written %d times, audit flushed %d more", err, w.writes, w.flushes-flushes)
	}
}
