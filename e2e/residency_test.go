package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
)

// TestResidency writes a workload bounded to the EU, with a 100 KiB body, at an EU site.
// Every site must hold its header; only EU sites may hold the body, and the body's bytes
// must never cross the wire to a site outside the EU.
func TestResidency(t *testing.T) {
	f := start(t, Options{Sites: 5}) // jurisdictions: s00 EU, s01 US, s02 APAC, s03 EU, s04 US
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	genesis, err := os.ReadFile(filepath.Join(f.opts.Dir, "genesis.atoll"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: f.Operator.Public()})
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("secret-config "), 100<<10/14)
	ops := []crdt.Op{
		{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "shop/ledger", Field: "replicas", Value: []byte("3")},
		crdt.SealOp(crdt.KindWorkload, "shop/ledger", "template", body),
	}
	env, err := crdt.Sign(rep.Prepare(ops, []string{"EU"}), [][]byte{body}, f.Operator)
	if err != nil {
		t.Fatal(err)
	}
	before, err := f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Client(1).Submit(ctx, env.Encode()); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("a US site accepted a change bounded to the EU: %v", err)
	}
	if _, err := f.Client(0).Submit(ctx, env.Encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Visible(ctx, env.ID.Hex(), time.Now()); err != nil {
		t.Fatal(err)
	}
	// EU site s03 may get the body a moment after the header (from a session).
	if err := f.waitFor(ctx, "body at s03", func(map[int]site.State) bool {
		h, err := f.Client(3).Held(ctx, env.ID.Hex(), 0)
		return err == nil && h.Bodies
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range f.Names {
		h, err := f.Client(i).Held(ctx, env.ID.Hex(), 0)
		if err != nil {
			t.Fatal(err)
		}
		eu := after[i].Jurisdiction == "EU"
		in := after[i].Transport.StreamBytesIn - before[i].Transport.StreamBytesIn
		t.Logf("%s (%s): held %v, body %v, %d stream bytes in", name, after[i].Jurisdiction, h.Held, h.Bodies, in)
		if !h.Held || h.Bodies != eu {
			t.Errorf("%s (%s): held %v with body %v", name, after[i].Jurisdiction, h.Held, h.Bodies)
		}
		if !eu && in >= uint64(len(body)) {
			t.Errorf("%s outside the bound received %d stream bytes, more than the %d-byte body", name, in, len(body))
		}
	}
	// Every site that received the body from a peer, by push or in a session, is named
	// by a "sent" record in a sender's residency audit, and no record is a breach.
	audited := map[string]bool{}
	for i, name := range f.Names {
		recs, err := f.Client(i).Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Type == "sent" && r.Change == env.ID.Hex() {
				audited[r.Peer] = true
				if r.Breach() {
					t.Errorf("%s sent the body to %s (%s): %+v", name, r.Peer, r.Jurisdiction, r)
				}
			}
		}
	}
	for i, name := range f.Names {
		if i != 0 && after[i].Jurisdiction == "EU" && !audited[name] {
			t.Errorf("%s holds the body, but no site's audit records sending it there (records to %v)", name, audited)
		}
	}
}
