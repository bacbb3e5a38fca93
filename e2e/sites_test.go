package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/site"
)

// TestSitesOneProcess: three sites in one atoll sites process form a federation and
// converge on a write, each with its own metrics: across a cut, the writer and its
// reachable peer count the change and the cut-off site does not, until the cut heals.
// One site of the shared process cannot be killed alone.
func TestSitesOneProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	f := start(t, Options{Sites: 3, PerProcess: 3, HTTP: true})
	if p := f.Pid(0); p == 0 || f.Pid(1) != p || f.Pid(2) != p {
		t.Fatalf("sites in processes %d, %d, %d; want one", f.Pid(0), f.Pid(1), f.Pid(2))
	}
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := f.Client(0).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := st.Changes

	if err := f.Partition(ctx, []int{0, 1}, []int{2}); err != nil {
		t.Fatal(err)
	}
	id, err := f.Write(ctx, 0, "one-process", "1")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Client(1).Has(ctx, id, 10*time.Second); err != nil || !ok {
		t.Fatalf("s01 holds the write: %v, %v", ok, err)
	}
	// held returns what site i's own /metrics says: its name and the changes it holds.
	held := func(i int) (string, float64, error) {
		fams, err := scrapeMetrics(ctx, f.HTTP(), f.URL(i))
		if err != nil {
			return "", 0, err
		}
		v, ok := sample(fams, "atoll_changes_held")
		if !ok {
			return "", 0, errors.New("no atoll_changes_held")
		}
		name := ""
		if info := fams["atoll_site_info"]; info != nil && len(info.Metric) == 1 {
			for _, l := range info.Metric[0].Label {
				if l.GetName() == "site" {
					name = l.GetValue()
				}
			}
		}
		return name, v, nil
	}
	check := func(want ...int) {
		t.Helper()
		for i, w := range want {
			name, v, err := held(i)
			if err != nil || name != f.Names[i] || v != float64(w) {
				t.Fatalf("%s's /metrics: site %q, atoll_changes_held %v (%v); want %s and %d", f.Names[i], name, v, err, f.Names[i], w)
			}
		}
	}
	check(n+1, n+1, n)

	if err := f.Kill(1); !errors.Is(err, ErrShared) {
		t.Fatalf("Kill of one site of a shared process: %v; want ErrShared", err)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	check(n+1, n+1, n+1)
}

// TestSitesOneFails: when one site of an atoll sites process cannot start (its listen
// address is taken), the process exits non-zero and names the site.
func TestSitesOneFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := shortTempDir(t)
	_, err = Start(ctx, Options{Sites: 2, PerProcess: 2, Dir: dir, Binary: binary, Tune: func(i int, c *site.Config) {
		if i == 1 {
			c.Listen = taken.Addr().String()
		}
	}})
	if err == nil {
		t.Fatal("a federation with a site on a taken address started")
	}
	out, rerr := os.ReadFile(filepath.Join(dir, "sites-s00-s01.log"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := fmt.Sprintf("site s01 (%s)", filepath.Join(dir, "s01.yaml"))
	if !strings.Contains(err.Error(), "exited at start (exit status 1)") || !strings.Contains(string(out), want) {
		t.Fatalf("start: %v\nprocess output: %s\nwant an exit status of 1 and %q", err, out, want)
	}
}
