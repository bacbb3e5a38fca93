package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardAtScale opens the dashboard of a site with 10,000 workloads in headless
// Chromium: the page counts them all but holds only the rows in sight, scrolling to the
// end shows the last one, and the search box finds a workload far down the list and
// opens its card.
func TestDashboardAtScale(t *testing.T) {
	const workloads = 10_000
	tab := browser(t)
	f := start(t, Options{Sites: 1, HTTP: true})
	ctx := deadline(t, 3*time.Minute)
	begin := time.Now()
	loadWorkloadsT(ctx, t, f, workloads)
	t.Logf("%d workloads written in %v", workloads, time.Since(begin).Round(time.Millisecond))
	tok, err := f.Token("admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := signIn(tab, f.URL(0), tok); err != nil {
		t.Fatal(err)
	}
	count := fmt.Sprintf(`document.querySelector('[data-count="workloads"]').textContent === '%d'`, workloads)
	if err := within(tab, 90*time.Second, chromedp.Poll[chromedp.Void](count)); err != nil {
		n, _ := run(tab, chromedp.Evaluate[string](`document.querySelector('[data-count="workloads"]').textContent`))
		t.Fatalf("the dashboard never counted %d workloads (shows %q): %v", workloads, n, err)
	}
	t.Logf("the dashboard shows %d workloads %v after the first was written", workloads, time.Since(begin).Round(time.Millisecond))

	// rows reads what the list holds: how many rows, the first and the last.
	type rows struct {
		N     int    `json:"n"`
		First string `json:"first"`
		Last  string `json:"last"`
	}
	const rowsJS = `(() => { const r = [...document.querySelectorAll('#workloads [data-workload]')];
		return {n: r.length, first: r.length ? r[0].dataset.workload : '', last: r.length ? r[r.length - 1].dataset.workload : ''}; })()`
	const maxRows = 80 // the rows in sight (at most 640 px of 44) and 10 on either side, with room
	r, err := run(tab, chromedp.Evaluate[rows](rowsJS))
	if err != nil || r.N == 0 || r.N > maxRows || r.First != "load/w00000" {
		t.Fatalf("the list holds %+v (%v); want at most %d rows, from load/w00000", r, err, maxRows)
	}
	// To the end of the list: the last workload is drawn, and still few rows.
	if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](`(() => { const l = document.getElementById('wl-list'); l.scrollTop = l.scrollHeight; })()`)); err != nil {
		t.Fatal(err)
	}
	last := `document.querySelector('#workloads [data-workload="load/w09999"]') !== null`
	if err := within(tab, 10*time.Second, chromedp.Poll[chromedp.Void](last)); err != nil {
		r, _ := run(tab, chromedp.Evaluate[rows](rowsJS))
		t.Fatalf("scrolled to the end, the list holds %+v, not load/w09999: %v", r, err)
	}
	if r, err := run(tab, chromedp.Evaluate[rows](rowsJS)); err != nil || r.N > maxRows {
		t.Fatalf("scrolled to the end, the list holds %+v (%v)", r, err)
	}

	// Search: typed as a person does, one key at a time.
	begin = time.Now()
	if err := within(tab, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`#wl-search`), "W09876")); err != nil {
		t.Fatal(err)
	}
	found := `(() => { const r = document.querySelectorAll('#workloads [data-workload]');
		return r.length === 1 && r[0].dataset.workload === 'load/w09876' &&
			document.querySelector('[data-testid="workload-detail"] [data-detail="load/w09876"]') !== null &&
			document.getElementById('wl-matched').textContent === '1 of 10000 match'; })()`
	if err := within(tab, 10*time.Second, chromedp.Poll[chromedp.Void](found)); err != nil {
		r, _ := run(tab, chromedp.Evaluate[rows](rowsJS))
		t.Fatalf("searching W09876: the list holds %+v: %v", r, err)
	}
	t.Logf("search for one of %d workloads shown in %v", workloads, time.Since(begin).Round(time.Millisecond))
	// Clearing the search brings every workload back, still drawn a window at a time.
	clear := `(() => { const s = document.getElementById('wl-search'); s.value = ''; s.dispatchEvent(new Event('input')); })()`
	if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](clear),
		chromedp.Poll[chromedp.Void](`document.getElementById('wl-matched').textContent === ''`)); err != nil {
		t.Fatal(err)
	}
	if r, err := run(tab, chromedp.Evaluate[rows](rowsJS)); err != nil || r.N == 0 || r.N > maxRows || r.First != "load/w00000" {
		t.Fatalf("search cleared, the list holds %+v (%v)", r, err)
	}
	screenshots(t, tab, "dashboard-10k")
}
