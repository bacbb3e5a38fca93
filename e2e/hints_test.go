package e2e

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"atoll/site"
)

// TestHintRepairsMissedChange: a site cut off long enough for the others to count it
// gone misses a change; once healed it must get it from the hint the writer sends on its
// new push stream (docs/adr/0015-hints-on-push-streams.md), well before the safety-net
// session. The safety net is raised to 5 minutes and acknowledgements (whose dependencies
// would start a session) are off, so that only the hint can repair it within the deadline.
func TestHintRepairsMissedChange(t *testing.T) {
	tune := func(_ int, c *site.Config) {
		c.Membership = site.MembershipConfig{
			ProbeInterval: site.Duration(200 * time.Millisecond), ProbeTimeout: site.Duration(100 * time.Millisecond),
			SuspicionMult: 2, SuspicionMaxTimeoutMult: 1, GossipToTheDeadTime: site.Duration(time.Second),
		}
		c.Sync.Rejoin = site.Duration(time.Second)
		c.Sync.Interval = site.Duration(5 * time.Minute)
		c.Sync.Ack = site.Duration(time.Hour)
	}
	f := start(t, Options{Sites: 3, Tune: tune})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, f, time.Minute) // the sites' releases, by pushes and hints alone
	if err := f.Partition(ctx, []int{0, 1}, []int{2}); err != nil {
		t.Fatal(err)
	}
	// Nobody pushes to the cut-off site, nor wants a session with it, once it is gone.
	if err := f.waitFor(ctx, "s02 cut off", func(m map[int]site.State) bool {
		return len(m[0].Live) == 1 && len(m[1].Live) == 1 && len(m[2].Live) == 0
	}); err != nil {
		t.Fatal(err)
	}
	id, err := f.Write(ctx, 0, "missed", "while cut off")
	if err != nil {
		t.Fatal(err)
	}
	before, err := f.Client(2).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	checkConverged(t, f, 15*time.Second)
	after, err := f.Client(2).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("s02 holds %s %v after the heal; hints in %d -> %d, sessions out %d -> %d", id, time.Since(healed).Round(time.Millisecond),
		before.Counters["hintsIn"], after.Counters["hintsIn"], before.Counters["sessionsOut"], after.Counters["sessionsOut"])
	if after.Counters["hintsIn"] <= before.Counters["hintsIn"] {
		t.Error("s02 took no hint after the heal")
	}
}

// previousRelease returns an atoll binary of the previous release: $ATOLL_PREVIOUS if set,
// else built from git ref $ATOLL_PREVIOUS_REF (default main) of this repository, reporting
// version "previous".
func previousRelease(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ATOLL_PREVIOUS"); p != "" {
		return p
	}
	ref := cmp.Or(os.Getenv("ATOLL_PREVIOUS_REF"), "main")
	root, err := exec.CommandContext(t.Context(), "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("no git repository to build the previous release from (set ATOLL_PREVIOUS): %v", err)
	}
	src := t.TempDir()
	archive := exec.CommandContext(t.Context(), "git", "-C", string(bytes.TrimSpace(root)), "archive", "--format=tar", ref)
	untar := exec.CommandContext(t.Context(), "tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin, untar.Stderr, archive.Stderr = pipe, os.Stderr, os.Stderr
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Skipf("git archive %s: %v (set ATOLL_PREVIOUS)", ref, err)
	}
	if err := untar.Wait(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "atoll-previous")
	build := exec.CommandContext(t.Context(), "go", "build", "-ldflags", "-X main.version=previous", "-o", bin, "./cmd/atoll")
	build.Dir, build.Stdout, build.Stderr = src, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building the previous release (%s): %v", ref, err)
	}
	return bin
}

// TestUpgradeHintsMixedRelease: sites of the previous release, which read no hint frames
// and learn heads only from memberlist metadata, and sites of this one, in one federation
// with an observer. Writes everywhere converge; sites of this release hint each other and
// no hint reaches an older site (it would reject it as a change); the observer, which
// relies on metadata, follows. Then the older sites are upgraded and all still converge.
func TestUpgradeHintsMixedRelease(t *testing.T) {
	prev := previousRelease(t)
	f := start(t, Options{Sites: 4, HTTP: true, Observers: []string{"watch"}})
	ctx := deadline(t, 6*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	restartOn := func(bin string, sites ...int) {
		t.Helper()
		for _, i := range sites {
			if err := f.StopSite(i); err != nil {
				t.Fatal(err)
			}
			f.SetBinary(i, bin)
			if err := f.StartSite(ctx, i); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.WaitMembers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	restartOn(prev, 0, 1)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	obs := ln.Addr().String()
	ln.Close()
	if err := f.StartObserver(ctx, "watch", obs); err != nil {
		t.Fatal(err)
	}
	writeAndCheck := func(round string) {
		t.Helper()
		for i := range 4 {
			for k := range 3 {
				if _, err := f.Write(ctx, i, fmt.Sprintf("%s%d", round, k), Seq(k)); err != nil {
					t.Fatal(err)
				}
			}
		}
		checkConverged(t, f, time.Minute)
		var s0, v site.View
		if err := poll(deadline(t, time.Minute), func() bool {
			_, err0 := getJSON(ctx, f.HTTP(), f.URL(0)+"/v1/view", &s0)
			code, err := getJSON(ctx, f.HTTP(), "http://"+obs+"/v1/view", &v)
			return err0 == nil && err == nil && code == 200 && v.Digest == s0.Digest
		}); err != nil {
			t.Fatalf("%s: the observer never reached the sites' digest: %s, sites %s", round, v.Digest, s0.Digest)
		}
	}
	writeAndCheck("mixed")
	sts, err := f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range sts {
		t.Logf("%s %-8s hints out %d, in %d; rejected %d, refused frames %d", f.Names[i], st.Version, st.Counters["hintsOut"], st.Counters["hintsIn"], st.Counters["rejected"], st.Counters["refusedFrames"])
		switch {
		case i < 2 && st.Version != "previous":
			t.Errorf("%s runs %q, want the previous release", f.Names[i], st.Version)
		case i < 2 && (st.Counters["rejected"] > 0 || st.Counters["refusedFrames"] > 0):
			t.Errorf("%s (previous release) rejected %d changes and refused %d frames: a hint reached it", f.Names[i], st.Counters["rejected"], st.Counters["refusedFrames"])
		case i >= 2 && (st.Counters["hintsOut"] == 0 || st.Counters["hintsIn"] == 0):
			t.Errorf("%s sent %d hints and took %d: the sites of this release must hint each other", f.Names[i], st.Counters["hintsOut"], st.Counters["hintsIn"])
		}
	}

	restartOn(binary, 0, 1)
	writeAndCheck("upgraded")
}
