package site

import (
	"encoding/json"
	"net/http"
	"testing"

	"atoll/crdt"
)

func TestAuthorize(t *testing.T) {
	anon := Identity{Role: RoleAnonymous}
	shop := Identity{Name: "shop-team", Role: RoleOperator, Namespaces: []string{"shop"}}
	any := Identity{Name: "ops", Role: RoleOperator, Namespaces: []string{"*"}}
	obs := Identity{Name: "watch", Role: RoleObserver}
	site := Identity{Name: "s00", Role: RoleSite}
	admin := Identity{Name: "root", Role: RoleAdmin}
	local := Identity{Name: "local", Role: RoleLocal}
	const ok = 0
	for _, tc := range []struct {
		name string
		id   Identity
		res  route
		kind crdt.Kind
		key  string
		want int
	}{
		{"anonymous health", anon, resPublic, 0, "", ok},
		{"anonymous view", anon, resScoped, 0, "", http.StatusUnauthorized},
		{"anonymous state", anon, resState, 0, "", http.StatusUnauthorized},
		{"anonymous metrics", anon, resMetrics, 0, "", http.StatusUnauthorized},
		{"anonymous kubernetes API", anon, resKube, 0, "", http.StatusUnauthorized},
		{"operator kubernetes API (RBAC decides)", shop, resKube, 0, "", ok},
		{"anonymous submit", anon, resSubmit, 0, "", http.StatusUnauthorized},
		{"anonymous object", anon, resObject, crdt.KindSite, "s00", http.StatusUnauthorized},
		{"empty role is anonymous", Identity{}, resFederation, 0, "", http.StatusUnauthorized},
		{"operator view", shop, resScoped, 0, "", ok},
		{"operator state", shop, resState, 0, "", ok},
		{"operator federation", shop, resFederation, 0, "", ok},
		{"operator metrics", shop, resMetrics, 0, "", http.StatusForbidden},
		{"operator submit", shop, resSubmit, 0, "", ok},
		{"operator own placement", shop, resPlacement, 0, "shop/web", ok},
		{"operator other placement", shop, resPlacement, 0, "bank/ledger", http.StatusNotFound},
		{"operator own workload", shop, resObject, crdt.KindWorkload, "shop/web", ok},
		{"operator other workload", shop, resObject, crdt.KindWorkload, "bank/ledger", http.StatusNotFound},
		{"operator own status", shop, resObject, crdt.KindStatus, "shop/web/s00/c1", ok},
		{"operator other status", shop, resObject, crdt.KindStatus, "bank/ledger/s00/c1", http.StatusNotFound},
		{"operator prefix is not a namespace", shop, resObject, crdt.KindWorkload, "shopping/x", http.StatusNotFound},
		{"operator site", shop, resObject, crdt.KindSite, "s00", ok},
		{"operator cluster", shop, resObject, crdt.KindCluster, "s00/c1", ok},
		{"operator charter (filtered)", shop, resObject, crdt.KindCharter, "", ok},
		{"operator of every namespace", any, resObject, crdt.KindWorkload, "bank/ledger", ok},
		{"operator own policy", shop, resObject, crdt.KindPolicy, "propagationpolicy/shop/web", ok},
		{"operator other policy", shop, resObject, crdt.KindPolicy, "overridepolicy/bank/ledger", http.StatusNotFound},
		{"operator cluster policy", shop, resObject, crdt.KindPolicy, "clusterpropagationpolicy/all", ok},
		{"operator malformed policy key", shop, resObject, crdt.KindPolicy, "shop/web", http.StatusNotFound},
		{"observer workload", obs, resObject, crdt.KindWorkload, "bank/ledger", ok},
		{"observer metrics", obs, resMetrics, 0, "", ok},
		{"observer submit", obs, resSubmit, 0, "", http.StatusForbidden},
		{"site metrics", site, resMetrics, 0, "", ok},
		{"site submit", site, resSubmit, 0, "", ok},
		{"admin placement", admin, resPlacement, 0, "bank/ledger", ok},
		{"admin metrics", admin, resMetrics, 0, "", ok},
		{"local everything", local, resMetrics, 0, "", ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := authorize(tc.id, tc.res, tc.kind, tc.key)
			if d.code != tc.want {
				t.Fatalf("authorize = %d %q, want %d", d.code, d.msg, tc.want)
			}
			if d.code != ok && d.msg == "" {
				t.Fatal("a refusal without a message")
			}
		})
	}
}

// TestAuthorizeNotFoundLeaksNothing: another namespace's object is refused with the
// words of a missing one.
func TestAuthorizeNotFoundLeaksNothing(t *testing.T) {
	shop := Identity{Name: "shop-team", Role: RoleOperator, Namespaces: []string{"shop"}}
	d := authorize(shop, resObject, crdt.KindWorkload, "bank/ledger")
	if want := `no workload "bank/ledger"`; d.msg != want {
		t.Fatalf("refusal %q, want %q (what a missing workload says)", d.msg, want)
	}
}

func TestCharterIdentity(t *testing.T) {
	k := func(b byte) crdt.PubKey { return crdt.PubKey{b} }
	ch := &crdt.Charter{Name: "acme",
		Admins:    map[crdt.PubKey]string{k(1): "root", k(5): "both"},
		Sites:     map[crdt.PubKey]*crdt.SiteInfo{k(2): {Name: "s00"}},
		Operators: map[crdt.PubKey]*crdt.OperatorInfo{k(3): {Name: "shop-team", Namespaces: []string{"shop"}}, k(5): {Name: "both"}},
		Observers: map[crdt.PubKey]string{k(4): "watch"},
	}
	for _, tc := range []struct {
		key  crdt.PubKey
		role Role
		name string
	}{{k(1), RoleAdmin, "root"}, {k(2), RoleSite, "s00"}, {k(3), RoleOperator, "shop-team"}, {k(4), RoleObserver, "watch"}, {k(5), RoleAdmin, "both"}} {
		id, ok := charterIdentity(ch, tc.key)
		if !ok || id.Role != tc.role || id.Name != tc.name {
			t.Errorf("key %x: %+v %v, want %s %s", tc.key[:1], id, ok, tc.role, tc.name)
		}
	}
	if _, ok := charterIdentity(ch, k(9)); ok {
		t.Error("a key outside the charter has an identity")
	}
}

func TestScope(t *testing.T) {
	v := View{
		Workloads: []WorkloadView{{Namespace: "shop", Name: "web"}, {Namespace: "bank", Name: "ledger"}},
		Events: []Event{
			{Kind: "site", Object: "s01"}, {Kind: "cluster", Object: "s01/c1"},
			{Kind: "placement", Object: "shop/web"}, {Kind: "placement", Object: "bank/ledger"},
			{Kind: "change", Object: "shop/web,bank/ledger"}, {Kind: "change", Object: "charter"},
			{Kind: "change", Object: "s02"}, {Kind: "residency", Object: "shop/web"},
		},
	}
	got := scopeView(v, []string{"shop"})
	if got.Scope != "shop" || len(got.Workloads) != 1 || got.Workloads[0].Name != "web" {
		t.Fatalf("scoped view: %+v", got)
	}
	if len(got.Events) != 4 {
		t.Fatalf("scoped events: %+v, want site, cluster, shop/web placement and residency", got.Events)
	}
	if all := scopeView(v, nil); all.Scope != "" || len(all.Workloads) != 2 || len(all.Events) != 8 {
		t.Fatalf("unscoped view changed: %+v", all)
	}
	if none := scopeView(v, []string{}); none.Scope != "-" || len(none.Workloads) != 0 {
		t.Fatalf("empty scope: %+v", none)
	}
	recs := scopeAudit([]AuditRecord{{Type: "ran", Workload: "shop/web"}, {Type: "ran", Workload: "bank/ledger"}, {Type: "sent", Change: "ab"}}, []string{"shop"})
	if len(recs) != 1 || recs[0].Workload != "shop/web" {
		t.Fatalf("scoped audit: %+v", recs)
	}
}

func TestCharterFor(t *testing.T) {
	obj := map[string]crdt.Value{"name": {}, "maxReplicas": {}, "quota/bytes": {}, "site/s00/key": {},
		"admin/root": {}, "operator/shop-team/key": {}, "operator/shop-team/namespaces": {}, "operator/bank-team/key": {}, "observer/watch/key": {}}
	got := charterFor(Identity{Name: "shop-team", Role: RoleOperator, Namespaces: []string{"shop"}}, obj)
	for _, f := range []string{"name", "maxReplicas", "quota/bytes", "site/s00/key", "operator/shop-team/key", "operator/shop-team/namespaces"} {
		if _, ok := got[f]; !ok {
			t.Errorf("operator does not see %s", f)
		}
	}
	for _, f := range []string{"admin/root", "operator/bank-team/key", "observer/watch/key"} {
		if _, ok := got[f]; ok {
			t.Errorf("operator sees %s", f)
		}
	}
	if len(charterFor(Identity{Role: RoleObserver}, obj)) != len(obj) {
		t.Error("observer does not see the whole charter")
	}
}

// TestFrameEncodedPerScope: a frame encodes each scope once, and the unscoped bytes are
// the frame's own.
func TestFrameEncodedPerScope(t *testing.T) {
	v := View{Site: "s00", Workloads: []WorkloadView{{Namespace: "shop", Name: "web"}, {Namespace: "bank", Name: "ledger"}}}
	f := &viewFrame{json: []byte("all\n"), view: v}
	if got := f.encoded(nil); string(got) != "all\n" {
		t.Fatalf("unscoped: %q", got)
	}
	a := f.encoded([]string{"shop"})
	var got View
	if err := json.Unmarshal(a, &got); err != nil || got.Scope != "shop" || len(got.Workloads) != 1 || got.Workloads[0].Name != "web" {
		t.Fatalf("scoped: %s (%v)", a, err)
	}
	if b := f.encoded([]string{"shop"}); &a[0] != &b[0] {
		t.Error("the same scope was encoded twice")
	}
	if len(f.view.Workloads) != 2 {
		t.Error("filtering changed the frame's view")
	}
}
