package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/site"
)

// TestViewPages: GET /v1/view pages and filters the workloads of one view at a real site
// (every workload once, in key order, whatever the page size), refuses bad parameters
// naming them, serves a write at once to a caller that asks ?fresh, and `atoll get
// workloads` reads past one page.
func TestViewPages(t *testing.T) {
	const workloads = 2_500 // three pages of `atoll get`
	f := start(t, Options{Sites: 1, HTTP: true})
	ctx := deadline(t, 2*time.Minute)
	loadWorkloadsT(ctx, t, f, workloads)
	base := f.URL(0) + "/v1/view"

	get := func(query string) (site.View, http.Header) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"?"+query, nil)
		resp, err := f.HTTP().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v site.View
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET /v1/view?%s: %s %s", query, resp.Status, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v, resp.Header
	}
	// The site computes views in the background: poll until one holds every workload.
	var first site.View
	if err := poll(ctx, func() bool {
		first, _ = get("limit=1")
		return first.Page != nil && first.Page.Total == workloads
	}); err != nil {
		t.Fatalf("no view of %d workloads: %+v", workloads, first.Page)
	}
	for _, limit := range []int{1000, 333} {
		var names []string
		cont := ""
		for pages := 0; ; pages++ {
			if pages > workloads/limit+1 {
				t.Fatalf("limit %d: more pages than %d", limit, pages)
			}
			query := fmt.Sprintf("limit=%d", limit)
			if cont != "" {
				query += "&continue=" + url.QueryEscape(cont)
			}
			v, _ := get(query)
			if len(v.Workloads) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(v.Workloads))
			}
			for _, w := range v.Workloads {
				names = append(names, w.Workload)
			}
			if cont = v.Page.Continue; cont == "" {
				break
			}
		}
		if len(names) != workloads || !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != workloads {
			t.Fatalf("limit %d: %d workloads, sorted %v", limit, len(names), slices.IsSorted(names))
		}
	}
	v, h := get("q=W02499&namespace=load")
	if len(v.Workloads) != 1 || v.Workloads[0].Workload != "load/w02499" || v.Page.Matched != 1 || v.Page.Total != workloads {
		t.Fatalf("q=W02499: %d workloads, page %+v", len(v.Workloads), v.Page)
	}
	seq, err := strconv.ParseUint(h.Get("Atoll-View-Seq"), 10, 64)
	if _, terr := time.Parse(time.RFC3339Nano, h.Get("Atoll-View-At")); err != nil || terr != nil || seq == 0 {
		t.Fatalf("view headers: seq %q, at %q", h.Get("Atoll-View-Seq"), h.Get("Atoll-View-At"))
	}

	for query, says := range map[string]string{
		"limit=1001": `limit \"1001\"`, "continue=xyz": `continue \"xyz\"`, "sort=name": `unknown parameter \"sort\"`,
		"wait=1h&fresh=true": `wait \"1h\"`,
	} {
		code, body, err := getBody(ctx, f.HTTP(), base+"?"+query)
		if err != nil || code != 400 || !strings.Contains(body, says) {
			t.Errorf("?%s: %d %s %v, want 400 saying %s", query, code, body, err, says)
		}
	}

	// A write is in the next fresh view at once, without polling.
	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.writeWorkload(ctx, 0, "shop", "fresh", 1, ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := get("fresh=true&namespace=shop"); len(v.Workloads) != 1 || v.Workloads[0].Workload != "shop/fresh" {
		t.Fatalf("?fresh after a write: %v", v.Workloads)
	}
	v, h = get("after=" + strconv.FormatUint(seq, 10) + "&wait=10s&limit=1")
	if n, _ := strconv.ParseUint(h.Get("Atoll-View-Seq"), 10, 64); n <= seq || v.Page.Total != workloads+1 {
		t.Fatalf("?after=%d: seq %d, %d workloads", seq, n, v.Page.Total)
	}

	// The CLI reads every page.
	out, errOut, err := cliRun(ctx, "get", "workloads", "-n", "load", "-o", "json", "--server", f.URL(0), "--key", f.KeyFile("admin"))
	var ws []site.WorkloadView
	if err == nil {
		err = json.Unmarshal([]byte(out), &ws)
	}
	if err != nil || len(ws) != workloads {
		t.Fatalf("atoll get workloads -n load: %d workloads, %v %s", len(ws), err, errOut)
	}
	out, errOut, err = cliRun(ctx, "get", "workloads", "--search", "W0123", "--server", f.URL(0), "--key", f.KeyFile("admin"))
	if err != nil || strings.Count(out, "\n") != 11 || !strings.Contains(out, "w01239") {
		t.Fatalf("atoll get workloads --search W0123: %v %s\n%s", err, errOut, out)
	}
}
