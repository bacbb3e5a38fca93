package site

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site/store"
)

// TestUpgradeKeepsOverLimitWorkload: the data file of an earlier release holds a workload
// with replicas = 9e18 (hand-signed then, refused now) and changes built on it. The site
// opens (the replay keeps what it stored), refuses to divide that workload with a recorded
// reason, and divides the others; the view names the refusal.
func TestUpgradeKeepsOverLimitWorkload(t *testing.T) {
	f := newFixture(t)
	// The fixture's genesis has no operator: a federation of one site with one, on disk.
	admin := crdt.SignerFromSeed(make([]byte, 32))
	operator := crdt.SignerFromSeed([]byte(strings.Repeat("o", 32)))
	genesis, err := crdt.NewGenesis(crdt.CharterSpec{Name: "test", Threshold: 1,
		Admins:    []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites:     []crdt.SiteInfo{{Name: "s0", Key: f.signer.Public(), Region: "r0", Jurisdiction: "EU"}},
		Operators: []crdt.OperatorInfo{{Name: "ops", Key: operator.Public(), Namespaces: []string{"*"}}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg.Path(f.cfg.Genesis), genesis.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	sign := func(author *crdt.Signer, lamport uint64, dep crdt.Hash, ops ...crdt.Op) *crdt.Envelope {
		env, err := crdt.Sign(&crdt.Change{Deps: []crdt.Hash{dep}, Lamport: lamport, Ops: ops}, nil, author)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	set := func(key, field, value string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: field, Value: []byte(value)}
	}
	huge := sign(operator, 2, genesis.ID, set("shop/huge", "replicas", "9000000000000000000"))
	fine := sign(operator, 3, huge.ID, set("shop/fine", "replicas", "3"), set("shop/fine", "kind", "Deployment"))
	key, err := DataKey(f.signer, genesis.ID) // this federation's, not the fixture's
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(f.cfg.DataFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(f.cfg.DataFile(), store.Options{NoSync: true, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append([]store.Record{{ID: huge.ID, Data: huge.Encode()}, {ID: fine.ID, Data: fine.Encode()}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	s, err := Open(f.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a data file of an earlier release: %v", err)
	}
	defer s.Close()
	if _, _, _, err := s.plan(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	var refusal string
	for _, r := range s.audit.pending {
		if r.Type == "refused" && r.Workload == "shop/huge" {
			refusal = r.Reason
		}
	}
	if !strings.Contains(refusal, "9000000000000000000") || !strings.Contains(refusal, "limit of 100000") {
		t.Errorf("refusal recorded: %q", refusal)
	}
	v, err := s.view(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]WorkloadView{}
	for _, w := range v.Workloads {
		got[w.Workload] = w
	}
	if !strings.Contains(got["shop/huge"].Error, "limit of 100000") || got["shop/fine"].Error != "" || got["shop/fine"].Replicas != 3 {
		t.Errorf("view: %+v", v.Workloads)
	}
	// A stopped pass applies nothing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, _, err := s.plan(ctx, time.Now()); err == nil {
		t.Error("plan ignored a done context")
	}
	if _, err := s.view(ctx, time.Now()); err == nil {
		t.Error("view ignored a done context")
	}
}
