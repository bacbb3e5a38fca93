package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atoll/scheduler"
	"atoll/site"
	"atoll/site/web"
)

// chromium is Debian's headless-capable browser; hack/install-chromium.sh installs it.
const chromium = "/usr/bin/chromium"

// Viewports of the screenshots: a desktop window and a phone (CSS pixels).
const (
	desktopW, desktopH = 1280, 900
	phoneW, phoneH     = 390, 844
)

// browser starts headless Chromium for one test and returns the context of its first
// tab. The browser ends with the test; page exceptions and Content-Security-Policy
// violations fail it.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("ATOLL_REQUIRE_BROWSER") != "" { // CI: make deps installed it
			t.Fatalf("ATOLL_REQUIRE_BROWSER is set but %s is missing: %v", chromium, err)
		}
		t.Skipf("dashboard browser test needs %s (Debian package chromium; run hack/install-chromium.sh): %v", chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(desktopW, desktopH))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline of its own
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", chromium, err)
	}
	var (
		mu       sync.Mutex
		problems []string
		done     = make(chan struct{})
	)
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
		for _, p := range problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return ctx
}

// within runs actions on the tab with a deadline, leaving the browser running after it.
// (The browser was started without one: a deadline on the first call would end it.)
func within(tab context.Context, d time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab, d)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// run runs one action with a result on the tab, with a deadline: a tab that stops
// answering fails the test instead of hanging it.
func run[T any](tab context.Context, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// pageSnapshot is what the dashboard shows, read back from its DOM by snapshotJS.
type pageSnapshot struct {
	Loaded     bool           `json:"loaded"`
	Conn       string         `json:"conn"`
	Federation string         `json:"federation"`
	Site       string         `json:"site"`
	Role       string         `json:"role"`
	Digest     string         `json:"digest"`
	Sites      []pageSite     `json:"sites"`
	Workloads  []pageWorkload `json:"workloads"`
	Residency  []pageResident `json:"residency"`
}

type pageSite struct {
	Name         string `json:"name"`
	Jurisdiction string `json:"jurisdiction"`
	Alive        bool   `json:"alive"`
}

type pageWorkload struct {
	Name     string `json:"name"`
	Replicas string `json:"replicas"`
	Mode     string `json:"mode"`
}

type pageResident struct {
	Name     string `json:"name"`
	Bound    string `json:"bound"`
	Redacted bool   `json:"redacted"`
}

const snapshotJS = `(() => {
	const text = (el, sel) => { const x = el && el.querySelector(sel); return x ? x.textContent.trim() : ''; };
	const field = (el, f) => text(el, '[data-field="' + f + '"]');
	const all = (sel) => [...document.querySelectorAll(sel)];
	return {
		loaded: document.body.dataset.loaded === 'true',
		conn: document.getElementById('conn').dataset.state,
		federation: text(document, '#federation'), site: text(document, '#site'),
		role: text(document, '#role'), digest: text(document, '#digest'),
		sites: all('#sites tr[data-site]').map((r) => ({name: r.dataset.site, jurisdiction: field(r, 'jurisdiction'), alive: r.dataset.alive === 'true'})),
		workloads: all('#workloads [data-workload]').map((c) => ({name: c.dataset.workload, replicas: text(c, '.stats [data-field="replicas"]'), mode: field(c, 'mode')})),
		residency: all('#residency tr[data-workload]').map((r) => ({name: r.dataset.workload, bound: field(r, 'bound'),
			redacted: r.querySelector('[data-field="redacted"]') !== null})),
	};
})()`

// matches says how the page differs from the site's view, or "" if it shows it.
func (p pageSnapshot) matches(v site.View) string {
	var diffs []string
	diff := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: page %v, API %v", what, got, want))
		}
	}
	diff("loaded", p.Loaded, true)
	diff("federation", p.Federation, v.Federation)
	diff("site", p.Site, v.Site)
	diff("role", p.Role, v.Role)
	diff("digest", p.Digest, v.Digest[:min(12, len(v.Digest))])
	var sites, wls, res []string
	for _, s := range p.Sites {
		sites = append(sites, fmt.Sprintf("%s:%s:alive=%v", s.Name, s.Jurisdiction, s.Alive))
	}
	for _, w := range p.Workloads {
		wls = append(wls, w.Name+":"+w.Replicas+":"+w.Mode)
	}
	for _, r := range p.Residency {
		res = append(res, fmt.Sprintf("%s:%s:redacted=%v", r.Name, r.Bound, r.Redacted))
	}
	var wantSites, wantWls, wantRes []string
	for _, s := range v.Sites {
		wantSites = append(wantSites, fmt.Sprintf("%s:%s:alive=%v", s.Name, s.Jurisdiction, s.Alive))
	}
	for _, w := range v.Workloads {
		mode, n := "Divided", strconv.Itoa(w.Replicas)
		if w.Duplicated {
			mode = "Duplicated"
		}
		if w.Replicas < 0 {
			n = "–"
		}
		wantWls = append(wantWls, w.Workload+":"+n+":"+mode)
		if len(w.Bound) > 0 {
			wantRes = append(wantRes, fmt.Sprintf("%s:%s:redacted=%v", w.Workload, strings.Join(w.Bound, ", "), w.Redacted))
		}
	}
	diff("sites", sites, wantSites)
	diff("workloads", wls, wantWls)
	diff("residency", res, wantRes)
	return strings.Join(diffs, "; ")
}

// pageAgrees waits until the page at the tab shows what GET /v1/view of url answers, and
// returns both.
func pageAgrees(ctx context.Context, t *testing.T, tab context.Context, hc *http.Client, url string) (pageSnapshot, site.View) {
	t.Helper()
	var (
		p    pageSnapshot
		v    site.View
		last string
	)
	err := poll(ctx, func() bool {
		if _, err := getJSON(ctx, hc, url+"/v1/view", &v); err != nil {
			last = err.Error()
			return false
		}
		snap, err := run(tab, chromedp.Evaluate[pageSnapshot](snapshotJS))
		if err != nil {
			last = err.Error()
			return false
		}
		p, last = snap, snap.matches(v)
		return last == ""
	})
	if err != nil {
		t.Fatalf("the dashboard of %s never showed its view: %s", url, last)
	}
	return p, v
}

// artifacts is where screenshots go: $ATOLL_ARTIFACTS, else artifacts/dashboard/ at the
// repository's root.
func artifacts(t *testing.T) string {
	dir := os.Getenv("ATOLL_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts", "dashboard")
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshots saves the page at desktop and at phone size as <name>-desktop.png and
// <name>-phone.png, and checks that the phone's page does not scroll sideways.
func screenshots(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := artifacts(t)
	shot := func(suffix string, w, h int64, opts ...chromedp.EmulateViewportOption) {
		if err := within(tab, 10*time.Second, chromedp.EmulateViewport(w, h, opts...)); err != nil {
			t.Fatal(err)
		}
		// The layout at the new size is done once a frame has been drawn after it.
		if _, err := run(tab, chromedp.Evaluate[bool](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`,
			chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		widths, err := run(tab, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if err != nil {
			t.Fatal(err)
		}
		if widths[0] > int(w) || widths[1] != int(w) {
			t.Errorf("%s: the page is %d px wide in a %d px viewport (innerWidth %d): it scrolls sideways", suffix, widths[0], w, widths[1])
		}
		png, err := run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+"-"+suffix+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d bytes)", path, len(png))
	}
	shot("desktop", desktopW, desktopH)
	shot("phone", phoneW, phoneH, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	if err := within(tab, 10*time.Second, chromedp.EmulateViewport(desktopW, desktopH)); err != nil {
		t.Fatal(err)
	}
}

// TestDashboard opens the dashboard of a running federation in headless Chromium: it
// shows what GET /v1/view of the same site answers (sites and jurisdictions, workloads
// and replicas, a bounded workload redacted outside its bound and held inside it, the
// digest), follows the stream without reload (a new workload, a stopped site), and
// lays out on a phone without sideways scrolling.
func TestDashboard(t *testing.T) {
	tab := browser(t)
	f, op, ctx := startWithFront(t, Options{Sites: 3, HTTP: true}, 3*time.Minute)
	if err := op.writeWorkload(ctx, 0, "web", "ledger", 2, "EU"); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1} {
		var v site.View
		if err := poll(ctx, func() bool {
			_, err := getJSON(ctx, f.HTTP(), f.URL(i)+"/v1/view", &v)
			return err == nil && len(v.Workloads) == 2
		}); err != nil {
			t.Fatalf("%s never had both workloads: %+v", f.Names[i], v.Workloads)
		}
	}

	// s00 is in the EU: it holds web/ledger's body.
	tok, err := f.Token("admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := signIn(tab, f.URL(0), tok); err != nil {
		t.Fatal(err)
	}
	p0, _ := pageAgrees(ctx, t, tab, f.HTTP(), f.URL(0))
	if i := slices.IndexFunc(p0.Residency, func(r pageResident) bool { return r.Name == "web/ledger" }); i < 0 || p0.Residency[i].Redacted || p0.Residency[i].Bound != "EU" {
		t.Errorf("s00's dashboard, residency: %+v, want web/ledger bound to EU and held", p0.Residency)
	}

	// s01 is in the US: it holds the signed header only.
	start := time.Now()
	if err := signIn(tab, f.URL(1), tok); err != nil {
		t.Fatal(err)
	}
	p1, v1 := pageAgrees(ctx, t, tab, f.HTTP(), f.URL(1))
	t.Logf("s01's dashboard shows its view %v after navigating", time.Since(start).Round(time.Millisecond))
	want := []string{f.Names[0] + ":EU", f.Names[1] + ":US", f.Names[2] + ":APAC"}
	var got []string
	for _, s := range p1.Sites {
		got = append(got, s.Name+":"+s.Jurisdiction)
	}
	if !slices.Equal(got, want) {
		t.Errorf("s01's dashboard, sites: %v, want %v", got, want)
	}
	if len(p1.Residency) != 1 || p1.Residency[0].Name != "web/ledger" || !p1.Residency[0].Redacted || p1.Residency[0].Bound != "EU" {
		t.Errorf("s01's dashboard, residency: %+v, want web/ledger bound to EU and redacted", p1.Residency)
	}
	if !strings.HasPrefix(v1.Digest, p1.Digest) || len(p1.Digest) < 8 {
		t.Errorf("s01's dashboard shows digest %q, API %q", p1.Digest, v1.Digest)
	}
	if err := within(tab, 20*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById('conn').dataset.state === 'live'`)); err != nil {
		t.Fatalf("the stream never went live: %v", err)
	}

	// A workload written at another site appears without a reload.
	if err := within(tab, 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.atollSamePage = true`)); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := op.write(ctx, 2, workloadOps("web", "late", 2)...); err != nil {
		t.Fatal(err)
	}
	if err := within(tab, 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`#workloads [data-workload="web/late"]`))); err != nil {
		t.Fatalf("web/late never appeared on s01's dashboard: %v", err)
	}
	t.Logf("web/late, written at s02, on s01's dashboard after %v", time.Since(start).Round(time.Millisecond))
	if same, err := run(tab, chromedp.Evaluate[bool](`window.atollSamePage === true`)); err != nil || !same {
		t.Errorf("the page was reloaded to show web/late (%v)", err)
	}

	// A stopped site is shown down, still without a reload.
	start = time.Now()
	if err := f.StopSite(2); err != nil {
		t.Fatal(err)
	}
	sel := fmt.Sprintf(`document.querySelector('#sites tr[data-site=%q]').dataset.alive === 'false'`, f.Names[2])
	if err := within(tab, 60*time.Second, chromedp.Poll[chromedp.Void](sel, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("s01's dashboard never showed %s down: %v", f.Names[2], err)
	}
	t.Logf("%s down on s01's dashboard %v after SIGTERM", f.Names[2], time.Since(start).Round(time.Millisecond))
	p1, _ = pageAgrees(ctx, t, tab, f.HTTP(), f.URL(1))
	if len(p1.Workloads) != 3 {
		t.Errorf("s01's dashboard, workloads: %+v", p1.Workloads)
	}
	screenshots(t, tab, "dashboard")
}

// signIn opens the dashboard at url and, if it asks, signs in with tok through its form;
// it returns once the page shows a view.
func signIn(tab context.Context, url, tok string) error {
	if err := within(tab, 20*time.Second, chromedp.Navigate(url+"/"),
		chromedp.Poll[chromedp.Void](`document.body.dataset.auth === 'in' || document.body.dataset.auth === 'out'`)); err != nil {
		return fmt.Errorf("dashboard at %s: %w", url, err)
	}
	out, err := run(tab, chromedp.Evaluate[bool](`document.body.dataset.auth === 'out' && !document.getElementById('login').hidden`))
	if err != nil {
		return err
	}
	if out {
		fill := fmt.Sprintf(`document.getElementById('token').value = %q; document.getElementById('login-button').click()`, tok)
		if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](fill)); err != nil {
			return err
		}
	}
	if err := within(tab, 20*time.Second, chromedp.Poll[chromedp.Void](`document.body.dataset.loaded === 'true'`)); err != nil {
		msg, _ := run(tab, chromedp.Evaluate[string](`document.getElementById('login-error').textContent`))
		return fmt.Errorf("dashboard at %s never showed a view after signing in (%q): %w", url, msg, err)
	}
	return nil
}

// TestDashboardSignIn: the dashboard asks an anonymous visitor to sign in and shows no
// data; an operator of shop then sees shop's workload and not bank's, is told its
// scope, and signing out clears the page.
func TestDashboardSignIn(t *testing.T) {
	tab := browser(t)
	f := start(t, Options{Sites: 1, HTTP: true, Operators: []OperatorSpec{{"shop", []string{"shop"}}, {"bank", []string{"bank"}}}})
	ctx := deadline(t, 2*time.Minute)
	for _, ns := range []string{"shop", "bank"} {
		op, err := newOperatorAs(f, f.Operators[ns])
		if err != nil {
			t.Fatal(err)
		}
		if err := op.writeWorkload(ctx, 0, ns, "app", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := within(tab, 20*time.Second, chromedp.Navigate(f.URL(0)+"/"),
		chromedp.Poll[chromedp.Void](`document.body.dataset.auth === 'out'`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login"]`))); err != nil {
		t.Fatalf("an anonymous visitor is not asked to sign in: %v", err)
	}
	// A bad token is refused with the site's reason.
	if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById('token').value = 'atl1.x.y'; document.getElementById('login-button').click()`),
		chromedp.Poll[chromedp.Void](`document.getElementById('login-error').textContent.includes('malformed token')`)); err != nil {
		t.Errorf("a malformed token is not refused with its reason: %v", err)
	}
	tok, err := f.Token("shop", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := signIn(tab, f.URL(0), tok); err != nil {
		t.Fatal(err)
	}
	if err := within(tab, 20*time.Second, chromedp.WaitVisible(chromedp.CSS(`#workloads [data-workload="shop/app"]`))); err != nil {
		t.Fatalf("shop/app never shown to shop: %v", err)
	}
	dom, err := run(tab, chromedp.Evaluate[map[string]any](`({
		bank: document.body.innerHTML.includes('bank/app'),
		who: document.querySelector('[data-testid="who-text"]').textContent,
		scope: document.querySelector('[data-testid="scope"]').textContent,
		cookie: document.cookie,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if dom["bank"] != false || !strings.Contains(dom["who"].(string), "shop") || !strings.Contains(dom["scope"].(string), "shop") || dom["cookie"] != "" {
		t.Errorf("shop's dashboard: %v; want no bank/app, shop named, and the cookie out of the script's reach", dom)
	}
	screenshots(t, tab, "dashboard-operator")
	if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById('logout').click()`),
		chromedp.Poll[chromedp.Void](`document.body.dataset.auth === 'out' && !document.body.innerHTML.includes('shop/app')`)); err != nil {
		t.Errorf("signing out left the page as it was: %v", err)
	}
	// Signed out for the server too: a reload asks again.
	if err := within(tab, 20*time.Second, chromedp.Navigate(f.URL(0)+"/"),
		chromedp.Poll[chromedp.Void](`document.body.dataset.auth === 'out'`)); err != nil {
		t.Errorf("after signing out, a reload is signed in: %v", err)
	}
}

// TestDashboardFixture renders a canned view with every kind of detail (clusters and
// capacity, GPUs and what a site left out of them, takeover, hold, missing replicas,
// conditions, an error, markup in names and reasons) from a server whose stream is
// missing: the page falls back to polling, escapes everything, and lays out at both
// sizes.
func TestDashboardFixture(t *testing.T) {
	tab := browser(t)
	var (
		mu    sync.Mutex
		polls int
	)
	mux := http.NewServeMux()
	mux.Handle("GET /", web.Handler())
	mux.HandleFunc("GET /v1/view", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		polls++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(fixtureView(time.Now()))
	})
	srv := httptest.NewServer(mux) // GET /v1/stream: 404, so no stream
	defer srv.Close()
	if err := within(tab, 20*time.Second, chromedp.Navigate(srv.URL+"/"),
		chromedp.Poll[chromedp.Void](`document.body.dataset.loaded === 'true' && document.getElementById('conn').dataset.state === 'polling'`),
		chromedp.WaitVisible(chromedp.CSS(`#clusters tr[data-cluster="eu-west/k1"]`))); err != nil {
		t.Fatalf("the fixture page never loaded by polling: %v", err)
	}
	mu.Lock()
	n := polls
	mu.Unlock()
	pctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := poll(pctx, func() bool { mu.Lock(); defer mu.Unlock(); return polls > n }); err != nil {
		t.Errorf("no GET /v1/view after the first %d: the page does not poll without a stream", n)
	}
	checks, err := run(tab, chromedp.Evaluate[map[string]any](`({
		imgs: document.querySelectorAll('main img, main script, main b[onclick]').length,
		pwned: window.pwned === true,
		reason: document.querySelector('#clusters tr[data-cluster="eu-west/k1"] [data-field="health"]').textContent,
		name: document.querySelector('#workloads [data-workload="shop/<b>cart</b>"] [data-field="name"] strong').textContent,
		redacted: document.querySelectorAll('#residency [data-field="redacted"]').length,
		takeover: document.querySelector('#workloads [data-workload="shop/cart"] [data-site="us-east"]').textContent,
		cpu: document.querySelector('#clusters tr[data-cluster="eu-west/k0"] [data-resource="cpu"]').textContent,
		gpu: document.querySelector('#clusters tr[data-cluster="eu-west/k0"] [data-resource="nvidia.com/gpu"]')?.textContent,
		ignored: document.querySelector('#clusters tr[data-cluster="eu-west/k1"] [data-field="ignored"]')?.textContent,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"imgs": 0.0, "pwned": false, "redacted": 1.0} {
		if checks[k] != want {
			t.Errorf("%s: %v, want %v", k, checks[k], want)
		}
	}
	for k, want := range map[string]string{"reason": `<img src=x onerror="window.pwned=true">`, "name": "shop/<b>cart</b>",
		"takeover": "takeover +2", "cpu": "2.5 free of 8", "gpu": "nvidia.com/gpu3 free of 8",
		"ignored": `not read: 40 extended resources beyond the first 32 by name not read, from "<img src=x onerror=window.pwned=true>"`} {
		if s, _ := checks[k].(string); !strings.Contains(s, want) {
			t.Errorf("%s: %q, want it to contain %q", k, s, want)
		}
	}
	screenshots(t, tab, "dashboard-fixture")
}

// fixtureView is a federation of three sites, one down, with two clusters at eu-west.
func fixtureView(now time.Time) site.View {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	res := func(cpu, mem, pods string) map[string]string {
		return map[string]string{"cpu": cpu, "memory": mem, "pods": pods}
	}
	gpus := func(m map[string]string, n string) map[string]string { m["nvidia.com/gpu"] = n; return m }
	return site.View{Site: "eu-west", Role: "leader", At: now, Federation: "acme-prod",
		Digest: "9f2c4be1d07a55e3c1f0a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7", Changes: 1284, Pending: 2,
		Sites: []site.SiteView{
			{Name: "eu-west", Region: "europe-west1", Jurisdiction: "EU", Self: true, Alive: true, Live: true, Since: ago(26 * time.Hour), Changes: 1284, InSync: true, Clusters: 2, Desired: 9, Ready: 8},
			{Name: "us-east", Region: "us-east-1", Jurisdiction: "US", Alive: true, Live: true, Since: ago(3 * time.Hour), Changes: 1281, Lag: 1.4},
			{Name: "ap-south", Region: "ap-south-1", Jurisdiction: "APAC", Live: false, Since: ago(95 * time.Second), Changes: 0},
		},
		Clusters: []site.ClusterView{
			{Site: "eu-west", Name: "k0", Healthy: true, Version: "v1.37.2", Nodes: 3, ReadyNodes: 3, Provider: "gke", Region: "europe-west1", Zone: "b",
				Allocatable: gpus(res("8", "32Gi", "330"), "8"), Available: gpus(res("2500m", "20Gi", "301"), "3"), Desired: 7, Ready: 7},
			{Site: "eu-west", Name: "k1", Reason: `<img src=x onerror="window.pwned=true">`, Version: "v1.36.0", Nodes: 2, ReadyNodes: 1,
				Allocatable: res("4", "16Gi", "220"), Available: res("0", "1536Mi", "200"), Desired: 2, Ready: 1,
				Ignored: []string{`40 extended resources beyond the first 32 by name not read, from "<img src=x onerror=window.pwned=true>"`}},
		},
		Workloads: []site.WorkloadView{
			{Placement: site.Placement{Workload: "shop/cart", Replicas: 6, Missing: 1, Conditions: []string{"ap-south down: its 2 replicas taken over by us-east"},
				Sites: []site.SitePlacement{
					{Share: scheduler.Share{Name: "eu-west", Replicas: 2, Base: 2, Reason: "weight 1"}, Alive: true, Since: ago(time.Hour), Clusters: []site.ClusterPlacement{
						{Share: scheduler.Share{Name: "k0", Replicas: 2, Base: 2, Reason: "spread"}, Desired: 2, Ready: 2}}},
					{Share: scheduler.Share{Name: "us-east", Replicas: 4, Base: 2, Takeover: 2, Reason: "takeover: ap-south down"}, Alive: true, Since: ago(80 * time.Second)},
					{Share: scheduler.Share{Name: "ap-south", Replicas: 0, Base: 2, Reason: "site down"}, Since: ago(80 * time.Second)},
				}}, Namespace: "shop", Name: "cart", Kind: "Deployment", Allowed: []string{"eu-west", "us-east", "ap-south"}, Desired: 2, Ready: 2},
			{Placement: site.Placement{Workload: "shop/<b>cart</b>", Replicas: 1, Duplicated: true, Sites: []site.SitePlacement{
				{Share: scheduler.Share{Name: "eu-west", Replicas: 1, Base: 1, Hold: 1, Reason: "failback: hold until k1 is ready"}, Alive: true, Clusters: []site.ClusterPlacement{
					{Share: scheduler.Share{Name: "k0", Replicas: 1, Base: 1}, Desired: 1, Ready: 1},
					{Share: scheduler.Share{Name: "k1", Replicas: 1, Base: 1, Hold: 1, Reason: "hold"}, Desired: 1, Ready: 0}}}}},
				Namespace: "shop", Name: "<b>cart</b>", Kind: "DaemonSet", Allowed: []string{"eu-west", "us-east", "ap-south"}, Desired: 2, Ready: 1},
			{Placement: site.Placement{Workload: "pay/ledger", Replicas: 3, Bound: []string{"EU"}, Policy: "policy/eu-only", Sites: []site.SitePlacement{
				{Share: scheduler.Share{Name: "eu-west", Replicas: 3, Base: 3, Reason: "bound EU"}, Alive: true, Clusters: []site.ClusterPlacement{
					{Share: scheduler.Share{Name: "k0", Replicas: 3, Base: 3}, Desired: 3, Ready: 3}}}}},
				Namespace: "pay", Name: "ledger", Kind: "Deployment", Allowed: []string{"eu-west"}, Desired: 3, Ready: 3},
			{Placement: site.Placement{Workload: "pay/vault", Replicas: 1, Bound: []string{"US"}, Error: "template: sealed body not held here",
				Sites: []site.SitePlacement{{Share: scheduler.Share{Name: "us-east", Replicas: 1, Base: 1}, Alive: true}}},
				Namespace: "pay", Name: "vault", Allowed: []string{"us-east"}, Redacted: true},
			{Placement: site.Placement{Workload: "ops/config", Replicas: -1, Duplicated: true}, Namespace: "ops", Name: "config", Kind: "ConfigMap",
				Allowed: []string{"eu-west", "us-east", "ap-south"}},
		},
		Events: []site.Event{
			{Seq: 41, Time: ago(80 * time.Second), Kind: "placement", Object: "shop/cart", Message: "shop/cart at us-east: 2 → 4 replicas (takeover: ap-south down)"},
			{Seq: 42, Time: ago(95 * time.Second), Kind: "site", Object: "ap-south", Message: "ap-south lost"},
			{Seq: 43, Time: ago(20 * time.Second), Kind: "cluster", Object: "eu-west/k1", Message: `eu-west/k1 is unhealthy <img src=x onerror="window.pwned=true">`},
			{Seq: 44, Time: ago(5 * time.Second), Kind: "change", Message: "change 3f9a1c from operator: wrote pay/ledger"},
			{Seq: 45, Time: ago(2 * time.Second), Kind: "residency", Object: "pay/vault", Message: "pay/vault: body withheld from eu-west (bound US)"},
		},
	}
}
