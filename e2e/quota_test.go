package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
)

// TestQuota: an operator floods valid changes, each signed by hand on a site's heads and
// submitted in turn to every site, past the byte quota the charter gives it. The excess
// is refused with the quota reason at every site, whether submitted by a client
// (admission) or relayed by a Byzantine site (validity), and another operator's writes
// carry on.
func TestQuota(t *testing.T) {
	f := start(t, Options{Sites: 4, Late: 1})
	ctx := deadline(t, time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	sites := []int{0, 1, 2}
	admin, err := site.LoadKeyFile(filepath.Join(f.opts.Dir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	other := crdt.SignerFromSeed(make([]byte, 32))
	otherKey := other.Public()
	const quota = 32 << 10
	// signOn signs ops on top of site i's heads.
	signOn := func(i int, s *crdt.Signer, ops ...crdt.Op) *crdt.Envelope {
		t.Helper()
		c, err := f.Client(i).Prepare(ctx, ops, nil)
		if err != nil {
			t.Fatal(err)
		}
		env, err := crdt.Sign(c, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	charter := signOn(0, admin,
		crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "operator/other/key", Value: otherKey[:]},
		crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "operator/other/namespaces", Value: []byte("*")},
		crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "operator/ops/quota/bytes", Value: fmt.Appendf(nil, "%d", quota)})
	if _, err := f.Client(0).Submit(ctx, charter.Encode()); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	// The flood: ~1 KiB changes to sites in turn, as fast as they answer.
	pad := strings.Repeat("x", 1<<10)
	workload := func(key string, n int) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: "annotations/n", Value: fmt.Appendf(nil, "%d %s", n, pad)}
	}
	var accepted, bytes int
	var refusal error
	for n := 0; refusal == nil; n++ {
		if n == 200 {
			t.Fatalf("%d changes of %d bytes accepted, quota %d", accepted, bytes, quota)
		}
		env := signOn(sites[n%3], f.Operator, workload("shop/flood", n))
		if _, err := f.Client(sites[n%3]).Submit(ctx, env.Encode()); err != nil {
			refusal = err
			break
		}
		accepted++
		bytes += len(env.Header)
	}
	t.Logf("flood: %d changes, %d header bytes accepted; then %v", accepted, bytes, refusal)
	if !strings.Contains(refusal.Error(), "over quota/bytes") || !strings.Contains(refusal.Error(), fmt.Sprintf("limit %d", quota)) {
		t.Fatalf("refused with %v, want the quota named with its limit", refusal)
	}
	if bytes > len(sites)*quota || bytes < quota-2<<10 {
		t.Errorf("accepted %d bytes under a quota of %d over %d sites", bytes, quota, len(sites))
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	// Every site refuses the next change from the client.
	over := signOn(0, f.Operator, workload("shop/flood", -1))
	for _, i := range sites {
		if _, err := f.Client(i).Submit(ctx, over.Encode()); err == nil || !strings.Contains(err.Error(), "over quota/bytes") {
			t.Errorf("site %s: %v, want a quota refusal", f.Names[i], err)
		}
	}
	// A Byzantine site relays a chain of the operator's changes on the converged heads,
	// longer alone than the quota: validity, which charges the operator along the chain,
	// refuses the same suffix at every site. A change of the Byzantine site's own pushed
	// after the chain on the same streams tells when the sites have decided. (10 changes:
	// past 16 invalid changes a minute, a site cuts the peer off.)
	big := strings.Repeat("y", 4<<10)
	byz := newByzantine(t, f, 3)
	c, err := f.Client(0).Prepare(ctx, []crdt.Op{workload("shop/relay", 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*crdt.Envelope
	for n := range 10 {
		c.Ops = []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "shop/relay", Field: "annotations/n", Value: fmt.Appendf(nil, "%d %s", n, big)}}
		env, err := crdt.Sign(c, nil, f.Operator)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, env)
		c = &crdt.Change{Deps: []crdt.Hash{env.ID}, Lamport: c.Lamport + 1}
	}
	good := byz.change(crdt.Op{Type: crdt.OpSet, Kind: crdt.KindSite, Key: f.Names[3], Field: "version", Value: []byte("good")})
	c0, w0 := byz.stream(0)
	defer c0.Close()
	c1, w1 := byz.stream(1)
	defer c1.Close()
	for _, env := range chain {
		send(t, w0, env.Encode())
		send(t, w1, env.Encode())
	}
	send(t, w0, good.Encode())
	send(t, w1, good.Encode())
	if _, err := f.Visible(ctx, good.ID.Hex(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	held := -1
	for _, i := range sites {
		n := 0
		for _, env := range chain {
			ok, err := f.Client(i).Has(ctx, env.ID.Hex(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			n++
		}
		if held >= 0 && n != held {
			t.Errorf("site %s holds %d changes of the relayed chain, another site %d", f.Names[i], n, held)
		}
		held = n
	}
	var relayed int
	for _, env := range chain[:held] {
		relayed += len(env.Header)
	}
	t.Logf("relayed chain: %d of %d changes valid, %d bytes", held, len(chain), relayed)
	if held == len(chain) || relayed > quota {
		t.Errorf("a chain of %d bytes past the quota of %d is valid", relayed, quota)
	}

	// Another operator carries on, at every site.
	mine := signOn(1, other, workload("shop/other", 0))
	if _, err := f.Client(1).Submit(ctx, mine.Encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Visible(ctx, mine.ID.Hex(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
}
