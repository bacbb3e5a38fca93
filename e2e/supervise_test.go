package e2e

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSupervisorBackoff pins the restart delays: doubling from Backoff, capped.
func TestSupervisorBackoff(t *testing.T) {
	s := Supervisor{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}.withDefaults()
	for k, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		if got := s.delay(k); got != want*time.Millisecond {
			t.Errorf("delay(%d) = %v, want %v", k, got, want*time.Millisecond)
		}
	}
	if got := s.delay(1000); got != time.Second {
		t.Errorf("delay(1000) = %v, want the cap", got)
	}
	if d := (Supervisor{}).withDefaults(); d.Max != 5 || d.Backoff != 100*time.Millisecond || d.MaxBackoff != 3*time.Second || d.Stable != 10*time.Second {
		t.Errorf("defaults: %+v", d)
	}
}

// TestSupervisorRestartsCrash kills a site with a SIGKILL the harness did not send, as
// the kernel's OOM killer would: the supervisor restarts it, once, and it serves again
// with what it had acknowledged and rejoins the membership.
func TestSupervisorRestartsCrash(t *testing.T) {
	f := start(t, Options{Sites: 2, Supervise: &Supervisor{}})
	ctx := deadline(t, time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(ctx, 1, "before", "crash"); err != nil {
		t.Fatal(err)
	}
	pid := f.Pid(1)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := poll(ctx, func() bool {
		if f.Restarts(1) == 0 || f.Pid(1) == pid {
			return false
		}
		_, err := f.Client(1).State(ctx)
		return err == nil
	})
	if err != nil {
		t.Fatalf("site 1 not back after an outside SIGKILL: pid %d (was %d), %d restarts: %v", f.Pid(1), pid, f.Restarts(1), err)
	}
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(ctx, 1, "after", "restart"); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, f, 30*time.Second)
	if n0, n1 := f.Restarts(0), f.Restarts(1); n0 != 0 || n1 != 1 {
		t.Fatalf("restarts: site 0 %d, site 1 %d; want 0 and 1", n0, n1)
	}
	if f.Exited(1) || !f.Running(1) {
		t.Fatalf("site 1 after its restart: exited %v, running %v", f.Exited(1), f.Running(1))
	}
}

// TestSupervisorLeavesStopped: what the test stops through the harness stays down, and a
// StartSite during the backoff of a pending restart replaces it rather than racing it.
func TestSupervisorLeavesStopped(t *testing.T) {
	const backoff = time.Second
	f := start(t, Options{Sites: 3, Supervise: &Supervisor{Backoff: backoff}})
	ctx := deadline(t, time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Kill(1); err != nil {
		t.Fatal(err)
	}
	if err := f.StopSite(2); err != nil {
		t.Fatal(err)
	}
	if err := f.Crash(0); err != nil {
		t.Fatal(err)
	}
	if err := f.StartSite(ctx, 0); err != nil { // within the backoff
		t.Fatal(err)
	}
	pid := f.Pid(0)
	time.Sleep(3 * backoff) // the restarts would have happened by now
	for i := 1; i <= 2; i++ {
		if f.Running(i) || f.Pid(i) != 0 || f.Restarts(i) != 0 {
			t.Errorf("site %d stopped by the harness: running %v, pid %d, %d restarts; want it left down", i, f.Running(i), f.Pid(i), f.Restarts(i))
		}
	}
	if f.Pid(0) != pid || f.Exited(0) || f.Restarts(0) != 0 {
		t.Errorf("site 0 restarted by the test during the backoff: pid %d (test started %d), exited %v, %d restarts; want the test's process alone", f.Pid(0), pid, f.Exited(0), f.Restarts(0))
	}
	if _, err := f.Client(0).State(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSupervisorGivesUp: a process that fails at every start (its site.yaml broken under
// it) is restarted Max times, then left down.
func TestSupervisorGivesUp(t *testing.T) {
	f := start(t, Options{Sites: 1, Supervise: &Supervisor{Max: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}})
	ctx := deadline(t, time.Minute)
	if err := os.WriteFile(f.Config(0), []byte("not: [yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Crash(0); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func() bool { return f.Restarts(0) == 3 && f.Exited(0) }); err != nil {
		t.Fatalf("after %d restarts, exited %v: %v", f.Restarts(0), f.Exited(0), err)
	}
	time.Sleep(500 * time.Millisecond) // more than the backoff cap, ten times over
	if n := f.Restarts(0); n != 3 || !f.Exited(0) {
		t.Fatalf("%d restarts, exited %v; want 3 and left down", n, f.Exited(0))
	}
}
