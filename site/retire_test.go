package site

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site/store"
)

// TestRemovedSite opens a site whose data file holds the amendment that removed it: it
// starts (to clean its clusters), says it was removed, plans nothing and writes nothing.
// A site that joins and is not listed yet was never removed.
func TestRemovedSite(t *testing.T) {
	f := newFixture(t)
	admin := crdt.SignerFromSeed(make([]byte, 32))
	other := crdt.SignerFromSeed([]byte("the other site's seed, 32 bytes!"))
	genesis, err := crdt.NewGenesis(crdt.CharterSpec{Name: "test", Threshold: 1,
		Admins: []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites: []crdt.SiteInfo{{Name: "s0", Key: f.signer.Public(), Region: "r0", Jurisdiction: "EU"},
			{Name: "s1", Key: other.Public(), Region: "r1", Jurisdiction: "EU"}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg.Path(f.cfg.Genesis), genesis.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	var ops []crdt.Op
	for _, field := range []string{"site/s0/key", "site/s0/region", "site/s0/jurisdiction"} {
		ops = append(ops, crdt.Op{Type: crdt.OpDelete, Kind: crdt.KindCharter, Field: field})
	}
	removal, err := crdt.Sign(&crdt.Change{Deps: []crdt.Hash{genesis.ID}, Lamport: 2, Ops: ops}, nil, admin)
	if err != nil {
		t.Fatal(err)
	}
	key, err := DataKey(f.signer, genesis.ID)
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
	if err := st.Append([]store.Record{{ID: removal.ID, Data: removal.Encode()}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	s, err := Open(f.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a removed site does not open: %v", err)
	}
	defer s.Close()
	if !s.removed() {
		t.Fatal("the site does not know it was removed")
	}
	if _, err := s.Write([]crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: "s0/k0", Field: "health", Value: []byte("healthy")}}); !errors.Is(err, ErrRemoved) {
		t.Errorf("a write of the removed site: %v", err)
	}
	if out, _, _, err := s.plan(t.Context(), time.Now()); err != nil || len(out) != 0 {
		t.Errorf("plan of the removed site: %v, %v", out, err)
	}

	// A site the genesis never listed, joining: not removed.
	cfg := f.cfg
	cfg.Name, cfg.Join, cfg.DataDir = "s9", true, "data9"
	j, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.removed() {
		t.Error("a joining site counts as removed")
	}
}
