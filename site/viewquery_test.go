package site

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every wrong parameter is refused with an error naming it; good ones parse.
func TestParseViewQuery(t *testing.T) {
	bad := map[string]string{
		"frsh=true":                     `unknown parameter "frsh"`,
		"fresh=yes":                     `fresh "yes"`,
		"after=-1":                      `after "-1"`,
		"wait=2h":                       `wait "2h"`,
		"wait=0s":                       `wait "0s"`,
		"fresh=true&after=3":            "fresh and after",
		"limit=0":                       `limit "0"`,
		"limit=1001":                    `limit "1001"`,
		"limit=ten":                     `limit "ten"`,
		"limit=1&limit=2":               `parameter "limit" given 2 times`,
		"namespace=":                    `namespace ""`,
		"namespace=a,,b":                `namespace "a,,b"`,
		"namespace=a/b":                 `namespace "a/b"`,
		"continue=%%%":                  `continue "%%%"`,
		"continue=" + "bm9zbGFzaA":      `continue "bm9zbGFzaA"`, // "noslash"
		"q=" + strings.Repeat("x", 254): "q: 254 characters",
	}
	for raw, want := range bad {
		v, err := url.ParseQuery(raw)
		if err != nil {
			v = url.Values{"continue": {"%%%"}}
		}
		if _, err := parseViewQuery(v, time.Minute); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one holding %q", raw, err, want)
		}
	}
	q, err := parseViewQuery(url.Values{"after": {"7"}, "wait": {"5s"}, "namespace": {"a,b"}, "q": {"Web"}, "limit": {"10"},
		"continue": {workloadKey{"a", "w1"}.token()}}, time.Minute)
	if err != nil || !q.hasAfter || q.after != 7 || q.wait != 5*time.Second || !q.paged || !slices.Equal(q.namespaces, []string{"a", "b"}) ||
		q.q != "web" || q.limit != 10 || q.cont != (workloadKey{"a", "w1"}) {
		t.Fatalf("parsed %+v, %v", q, err)
	}
	if q, err := parseViewQuery(url.Values{}, time.Minute); err != nil || q.paged || q.fresh || q.hasAfter {
		t.Fatalf("no parameters: %+v, %v; want the whole latest view", q, err)
	}
}

// Pages walk every selected workload once, in key order, whatever the limit; the scope
// applies before the filters; counts and the last page's empty token are right.
func TestPageView(t *testing.T) {
	var v View
	for _, ns := range []string{"a", "a-b", "bank", "shop"} {
		for i := range 25 {
			v.Workloads = append(v.Workloads, WorkloadView{Namespace: ns, Name: fmt.Sprintf("w%02d", i)})
		}
	}
	slices.Reverse(v.Workloads)
	sortWorkloads(v.Workloads)
	if v.Workloads[0].Namespace != "a" || v.Workloads[25].Namespace != "a-b" {
		t.Fatalf("not in key order: %v then %v", v.Workloads[0], v.Workloads[25])
	}
	v.Events = []Event{{Object: "bank/w01"}, {Object: "shop/w01"}}
	walk := func(scope []string, q viewQuery) (names []string, last *ViewPage) {
		for range 200 {
			p := pageView(v, scope, q)
			if len(p.Workloads) > q.limit {
				t.Fatalf("page of %d, limit %d", len(p.Workloads), q.limit)
			}
			for _, w := range p.Workloads {
				names = append(names, w.Namespace+"/"+w.Name)
			}
			if p.Page.Continue == "" {
				return names, p.Page
			}
			var ok bool
			if q.cont, ok = parseToken(p.Page.Continue); !ok {
				t.Fatalf("token %q does not parse", p.Page.Continue)
			}
		}
		t.Fatal("paging never ended")
		return nil, nil
	}
	for _, limit := range []int{1, 7, 25, 1000} {
		names, p := walk(nil, viewQuery{limit: limit})
		if len(names) != 100 || !slices.IsSorted(names[:25]) || p.Total != 100 || p.Matched != 100 {
			t.Fatalf("limit %d: %d workloads, page %+v", limit, len(names), p)
		}
		if len(slices.Compact(slices.Clone(names))) != 100 {
			t.Fatalf("limit %d: a workload served twice", limit)
		}
	}
	names, p := walk([]string{"shop", "bank"}, viewQuery{limit: 10, q: "w1"})
	want := []string{}
	for _, ns := range []string{"bank", "shop"} {
		for i := 10; i < 20; i++ {
			want = append(want, fmt.Sprintf("%s/w%d", ns, i))
		}
	}
	if !slices.Equal(names, want) || p.Total != 50 || p.Matched != 20 {
		t.Fatalf("scoped to shop and bank, q w1: %v, page %+v", names, p)
	}
	one := pageView(v, []string{"shop"}, viewQuery{limit: 5, namespaces: []string{"bank", "shop"}})
	if one.Scope != "shop" || len(one.Events) != 1 || one.Page.Matched != 25 || one.Workloads[0].Namespace != "shop" {
		t.Fatalf("a scoped page: scope %q, %d events, page %+v", one.Scope, len(one.Events), one.Page)
	}
}
