package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
)

// TestFormatBeyond: admins raise the charter past what the sites' release implements
// (--force). Every site keeps what it holds and keeps taking changes it knows, serves
// reads, and reports itself not ready with the reason; a change of a later release (a
// field this one does not know) is held, not stored and not counted against the peer
// that sent it. Below that level the same change is refused as invalid.
func TestFormatBeyond(t *testing.T) {
	f := start(t, Options{Sites: 2, HTTP: true})
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	atoll := cliAt(ctx, t, f, 0)
	op, err := site.LoadKeyFile(filepath.Join(f.opts.Dir, "operator.key"))
	if err != nil {
		t.Fatal(err)
	}
	// later is a change a later release would write: a workload field this one does not know.
	later := func() []byte {
		t.Helper()
		c, err := f.Client(0).Prepare(ctx, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "shop/web", Field: "colour", Value: []byte("blue")}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		env, err := crdt.Sign(c, nil, op)
		if err != nil {
			t.Fatal(err)
		}
		return env.Encode()
	}
	if _, err := f.Client(0).Submit(ctx, later()); err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) {
		t.Fatalf("a later release's change under level %d: %v, want refused as unknown", crdt.MaxFormat, err)
	}

	// Every site publishes the level its release implements, for `charter propose`.
	for _, name := range f.Names[:2] {
		want := site.ReleaseValue("dev", crdt.MaxFormat)
		var got string
		if err := poll(ctx, func() bool {
			obj, err := f.Client(0).Object(ctx, "site", name)
			got = obj["version"].Value
			return err == nil && got == want
		}); err != nil {
			t.Fatalf("site %s published %q, want %q", name, got, want)
		}
	}

	beyond := crdt.MaxFormat + 1
	amendment := filepath.Join(t.TempDir(), "beyond.yaml")
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--format", fmt.Sprint(beyond), "-o", amendment); err == nil {
		t.Fatalf("propose --format %d without --force: accepted\n%s", beyond, out)
	}
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--format", fmt.Sprint(beyond), "--force", "-o", amendment); err != nil {
		t.Fatalf("propose --force: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "submit", amendment); err != nil || charterAcceptedRE.FindStringSubmatch(out) == nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	reason := fmt.Sprintf("the charter requires format %d; this release implements %d", beyond, crdt.MaxFormat)
	for i := range 2 {
		var r site.Readiness
		if err := poll(ctx, func() bool {
			code, err := getJSON(ctx, f.HTTP(), f.URL(i)+"/readyz", &r)
			return err == nil && code == http.StatusServiceUnavailable && strings.Contains(r.Reason, reason)
		}); err != nil {
			t.Fatalf("site %d: readiness %+v, want not ready: %s", i, r, reason)
		}
	}
	st, err := f.Client(1).State(ctx)
	if err != nil || st.CharterFormat != beyond || st.Format != crdt.MaxFormat {
		t.Fatalf("state: format %d, charter %d (%v)", st.Format, st.CharterFormat, err)
	}

	// What this release knows is still taken and replicated; a later release's change is held.
	if _, err := f.Client(0).Write(ctx, site.WriteRequest{Ops: []site.WriteOp{{Op: "set", Kind: "site", Key: f.Names[0], Field: "labels/tier", Value: "gold"}}}); err != nil {
		t.Fatalf("a change this release knows, under level %d: %v", beyond, err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := f.Client(0).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Client(0).Submit(ctx, later()); err == nil || !strings.Contains(err.Error(), "not stored") || !strings.Contains(err.Error(), "upgrade this site") {
		t.Fatalf("a later release's change under level %d: %v, want held", beyond, err)
	}
	st, err = f.Client(0).State(ctx)
	if err != nil || st.Beyond != 1 || st.Counters["rejected"] != before.Counters["rejected"] {
		t.Fatalf("state: beyond %d, rejected %d then %d (%v), want 1 held and no rejection", st.Beyond, before.Counters["rejected"], st.Counters["rejected"], err)
	}
}
