package e2e

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

// leaderOf0 waits until exactly one replica of site 0 leads, and returns its process.
func leaderOf0(t *testing.T, ctx context.Context, f *Fed) int {
	t.Helper()
	for {
		leaders := []int{}
		for i := range f.Names {
			if !f.replicaOf0(i) || !f.Running(i) {
				continue
			}
			if st, err := f.Client(i).State(ctx); err == nil && st.Role == "leader" {
				leaders = append(leaders, i)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no single leader of site 0: %v", leaders)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestSiteReplicas runs site 0 as three Raft replicas joined to a real cluster, kills the
// leader with SIGKILL while it applies workloads, and checks that another replica takes
// over: no acknowledged write lost, every Deployment there exactly once, and the killed
// replica comes back as a follower. The kill is the harness's (it stays down until the test
// starts it again); any other exit is restarted by the supervisor, as in production.
func TestSiteReplicas(t *testing.T) {
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	env, err := testenv.Start(t.Context(), testenv.Options{Dir: shortTempDir(t), Clusters: 1, NodesPerCluster: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	f := start(t, Options{Sites: 2, Replicas: 3, Supervise: &Supervisor{}, Tune: func(_ int, c *site.Config) { c.Observe = site.Duration(300 * time.Millisecond) }})
	ctx := deadline(t, 3*time.Minute)
	lead := leaderOf0(t, ctx, f)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	kc, err := os.ReadFile(env.Clusters()[0].AtollKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Client(lead).JoinCluster(ctx, site.JoinRequest{Name: "c0", Kubeconfig: string(kc)}); err != nil {
		t.Fatal(err)
	}
	for k := range 20 { // acknowledged by a majority of site 0's replicas
		if _, err := f.Write(ctx, lead, fmt.Sprintf("k%d", k), Seq(k)); err != nil {
			t.Fatal(err)
		}
	}
	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	var ops []crdt.Op
	for i := range n {
		ops = append(ops, workloadOps("rep", fmt.Sprintf("w%d", i), 2)...)
	}
	if err := op.write(ctx, 1, ops...); err != nil {
		t.Fatal(err)
	}
	cs := clientset(t, env.Clusters()[0].Kubeconfig)
	count := func() int {
		l, err := cs.AppsV1().Deployments("rep").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	for c := count(); c < 10; c = count() { // kill in the middle of the pass
		select {
		case <-ctx.Done():
			t.Fatalf("%d Deployments before the kill", c)
		case <-time.After(10 * time.Millisecond):
		}
	}
	before := count()
	killed := time.Now()
	if err := f.Kill(lead); err != nil {
		t.Fatal(err)
	}
	next := leaderOf0(t, ctx, f)
	// Failover: until the new leader acknowledges a write.
	for {
		if _, err := f.Write(ctx, next, "after", "failover"); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("new leader never acknowledged a write")
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Logf("killed leader at %d of %d Deployments; replica %d acknowledged a write %v later", before, n, next, time.Since(killed).Round(time.Millisecond))
	for c := count(); c < n; c = count() {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d Deployments after failover", c, n)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if c := count(); c != n {
		t.Fatalf("%d Deployments, want exactly %d", c, n)
	}
	t.Logf("all %d Deployments %v after the kill", n, time.Since(killed).Round(time.Millisecond))
	if err := f.StartSite(ctx, lead); err != nil {
		t.Fatal(err)
	}
	if st, err := f.Client(lead).State(ctx); err != nil || st.Role != "follower" {
		t.Fatalf("restarted replica: role %q (%v), want follower", st.Role, err)
	}
	if err := f.WaitConverged(deadline(t, 20*time.Second)); err != nil {
		sts, _ := f.States(ctx)
		for i, st := range sts {
			for _, m := range st.Missing {
				for j := range f.Names {
					h, _ := f.Client(j).Held(ctx, m, 0)
					t.Logf("process %d misses %s; process %d holds it: %v", i, m[:12], j, h.Held)
				}
			}
		}
		t.Fatal(err)
	}
	checkConverged(t, f, time.Minute)
}

// roleOf returns the role process i reports, "" if it does not answer within a second
// (frozen, or gone).
func roleOf(ctx context.Context, f *Fed, i int) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := f.Client(i).State(ctx)
	if err != nil {
		return ""
	}
	return st.Role
}

// TestReplicaStepsDown freezes the leading replica of site 0 (SIGSTOP, as a stalled host
// would) until another replica leads, then thaws it: it finds its leadership gone and
// steps down in-process, staying up as a follower. Killing whichever replica leads then,
// until it is this one, shows that a replica that stepped down leads again: it
// acknowledges writes, rejoins the membership and counts two leaderships. Other exits are
// restarted by the supervisor, as in production; this replica must never exit.
func TestReplicaStepsDown(t *testing.T) {
	f := start(t, Options{Sites: 2, Replicas: 3, HTTP: true, Supervise: &Supervisor{}})
	ctx := deadline(t, 3*time.Minute)
	lead := leaderOf0(t, ctx, f)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Signal(lead, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for other := false; !other; {
		for i := range f.Names {
			other = other || (i != lead && f.replicaOf0(i) && roleOf(ctx, f, i) == "leader")
		}
		if ctx.Err() != nil {
			t.Fatal("no other replica leads while the leader is frozen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := f.Signal(lead, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for roleOf(ctx, f, lead) != "follower" {
		if f.Exited(lead) || f.Restarts(lead) > 0 {
			t.Fatalf("replica %d exited when it lost leadership", lead)
		}
		if ctx.Err() != nil {
			t.Fatalf("replica %d never became a follower again", lead)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for round := 0; ; round++ {
		next := leaderOf0(t, ctx, f)
		if next == lead {
			t.Logf("replica %d leads again after %d kill(s)", lead, round)
			break
		}
		if err := f.Kill(next); err != nil {
			t.Fatal(err)
		}
		if err := f.StartSite(ctx, next); err != nil {
			t.Fatal(err)
		}
		if f.Exited(lead) || f.Restarts(lead) > 0 {
			t.Fatalf("replica %d exited", lead)
		}
	}
	for {
		if _, err := f.Write(ctx, lead, "again", "leader"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the replica that stepped down never acknowledged a write as leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Restarts(lead) > 0 {
		t.Fatalf("replica %d exited and was restarted", lead)
	}
	if n := metricValue(ctx, t, f, lead, "atoll_leaderships_total"); n < 2 {
		t.Fatalf("replica %d became leader %v times in one process, want 2 or more", lead, n)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
}
