package site

import (
	"context"
	"testing"
	"time"

	"atoll/site/kube"
)

// TestBetweenPacesSoftRecords: soft records alone (status and capacity any site writes)
// do not end the reconcile loop's wait before softAfter, however many arrive, while a
// stored change or drift in a member cluster ends it after the burst and liveness ends
// it at once (the hour-long resync is never what ends it); status wake-ups
// are reported in between without ending it.
func TestBetweenPacesSoftRecords(t *testing.T) {
	s, _, _, _ := openTestSite(t)
	appliers := map[string]*kube.Applier{}
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	closed := func() chan struct{} { c := make(chan struct{}); close(c); return c }

	// Soft records arrive and status changes are noted; an hour of pacing is not over
	// when the context ends 300 ms later.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s.wakeStatus()
	if s.between(ctx, appliers, idle, make(chan struct{}), closed(), time.Hour) {
		t.Fatal("a pass ran for soft records alone before the pace allowed it")
	}

	wait := func(what string, hard, soft chan struct{}) {
		t.Helper()
		done := make(chan bool, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		go func() { done <- s.between(ctx, appliers, idle, hard, soft, time.Hour) }()
		if !<-done {
			t.Fatalf("%s: no pass before the deadline", what)
		}
	}
	wait("a stored change", closed(), closed())
	s.wakeReconcile()
	wait("a change of liveness", make(chan struct{}), make(chan struct{}))
	s.wakeDrift()
	wait("drift in a member cluster", make(chan struct{}), make(chan struct{}))
}
