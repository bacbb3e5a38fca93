package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
	"atoll/site/transport"
)

// TestRevocation runs three sites and a Byzantine relay (a charter site run by the test)
// and tries the two insider attacks of docs/adr/0009-revocation.md with hand-signed
// changes:
//
//  1. An operator is removed by an amendment (2 of 3 admins, through the CLI). A copy of
//     its key keeps writing on its own past, which does not hold the removal: one change
//     before the removal is submitted (it takes effect, then becomes void), more after
//     (refused by a site's API, relayed by the Byzantine site: held, void). No correct
//     site keeps any of them in its state.
//  2. Two admins rotate to new keys. Their old keys, a quorum of the genesis, sign on the
//     genesis a change admitting a rogue EU site and an operator of every namespace,
//     which then writes. Every site holds both void; the charter in force lists neither;
//     the rogue site's handshake is refused, so it receives nothing; the operator's
//     write is not in any state.
func TestRevocation(t *testing.T) {
	f := start(t, Options{Sites: 4, Late: 1, HTTP: true, Admins: 3, Threshold: 2,
		Operators: []OperatorSpec{{Name: "shop", Namespaces: []string{"shop"}}}})
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	atoll := cliAt(ctx, t, f, 0)
	running := f.RunningSites()
	byz := newByzantine(t, f, 3)
	c0, w0 := byz.stream(0)
	defer c0.Close()
	c1, w1 := byz.stream(1)
	defer c1.Close()
	replicas := func(v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "shop/web", Field: "replicas", Value: []byte(v)}
	}

	// The operator's own write, before anything happens.
	shop, err := newOperatorAs(f, f.Operators["shop"])
	if err != nil {
		t.Fatal(err)
	}
	if err := shop.write(ctx, 0, replicas("2")); err != nil {
		t.Fatal(err)
	}
	waitField(ctx, t, f, running, "shop/web", "replicas", "2")

	// Part 1. The removal is proposed (on the heads of now) and signed by a second admin.
	removal := filepath.Join(t.TempDir(), "remove-shop.yaml")
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--remove-operator", "shop", "-o", removal); err != nil {
		t.Fatalf("propose: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "sign", "--key", f.KeyFile("admin1"), removal); err != nil || !strings.Contains(out, "ready to submit") {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	// Meanwhile a copy of the key writes on the operator's own past, through the relay:
	// concurrent with the removal, it takes effect for now.
	early := backdate(t, shop, replicas("99"))
	send(t, w0, early.Encode())
	waitField(ctx, t, f, running, "shop/web", "replicas", "99")

	if out, err := atoll("charter", "submit", removal); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	// The removal voids the early change everywhere: the operator's value is back.
	waitField(ctx, t, f, running, "shop/web", "replicas", "2")
	for _, i := range running {
		st, err := f.Client(i).Charter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range st.Charter.Operators {
			if o.Name == "shop" {
				t.Fatalf("%s: operator shop still in the charter", f.Names[i])
			}
		}
	}

	// After the removal: a site's API refuses a backdated change, the relay spreads
	// others; they are held (valid in their past) and void.
	late := backdate(t, shop, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "shop/evil", Field: "replicas", Value: []byte("1")})
	if _, err := f.Client(2).Submit(ctx, late.Encode()); err == nil {
		t.Fatalf("%s accepted a change by the removed operator from a client", f.Names[2])
	}
	later := backdate(t, shop, replicas("0"))
	send(t, w1, late.Encode(), later.Encode())
	for _, env := range []*crdt.Envelope{early, late, later} {
		if _, err := f.Visible(ctx, env.ID.Hex(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	checkConverged(t, f, time.Minute)
	waitField(ctx, t, f, running, "shop/web", "replicas", "2")
	for _, i := range running {
		if obj, err := f.Client(i).Object(ctx, "workload", "shop/evil"); err != nil || obj != nil {
			t.Fatalf("%s: shop/evil, written by the removed operator, is in the state: %v %v", f.Names[i], obj, err)
		}
		if n := metricValue(ctx, t, f, i, "atoll_changes_void"); n < 3 {
			t.Fatalf("%s: atoll_changes_void %v, want at least the 3 backdated changes", f.Names[i], n)
		}
	}

	// Part 2. admin and admin1 rotate to new keys.
	oldA, err := site.LoadKeyFile(f.KeyFile("admin"))
	if err != nil {
		t.Fatal(err)
	}
	oldA1, err := site.LoadKeyFile(f.KeyFile("admin1"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	newA, newA1 := filepath.Join(dir, "admin-2.key"), filepath.Join(dir, "admin1-2.key")
	for _, p := range []string{newA, newA1} {
		if _, err := site.NewKeyFile(p); err != nil {
			t.Fatal(err)
		}
	}
	rotation := filepath.Join(dir, "rotate.yaml")
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--rotate", "admin/admin="+newA, "--rotate", "admin/admin1="+newA1, "-o", rotation); err != nil {
		t.Fatalf("propose the rotation: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "sign", "--key", f.KeyFile("admin1"), rotation); err != nil {
		t.Fatalf("sign the rotation: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "submit", rotation); err != nil {
		t.Fatalf("submit the rotation: %v\n%s", err, out)
	}
	checkConverged(t, f, time.Minute)

	// The old keys sign on the genesis.
	genesis, err := os.ReadFile(filepath.Join(f.opts.Dir, "genesis.atoll"))
	if err != nil {
		t.Fatal(err)
	}
	fork, err := crdt.NewReplica(crdt.Config{Genesis: genesis})
	if err != nil {
		t.Fatal(err)
	}
	rogueSite, rogueOp := crdt.SignerFromSeed(make([]byte, 32)), crdt.SignerFromSeed([]byte(strings.Repeat("r", 32)))
	coup, _, err := fork.Write(oldA, crdt.CharterSpec{
		Sites:     []crdt.SiteInfo{{Name: "eu-rogue", Key: rogueSite.Public(), Region: "eu-x", Jurisdiction: "EU"}},
		Operators: []crdt.OperatorInfo{{Name: "rogue", Key: rogueOp.Public(), Namespaces: []string{"*"}}},
	}.Ops(), nil, nil, oldA1)
	if err != nil {
		t.Fatal(err)
	}
	grab, _, err := fork.Write(rogueOp, []crdt.Op{replicas("0")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, w0, coup.Encode(), grab.Encode())
	for _, env := range []*crdt.Envelope{coup, grab} {
		if _, err := f.Visible(ctx, env.ID.Hex(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	checkConverged(t, f, time.Minute)
	waitField(ctx, t, f, running, "shop/web", "replicas", "2")
	for _, i := range running {
		st, err := f.Client(i).Charter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st.Charter.Sites {
			if s.Name == "eu-rogue" {
				t.Fatalf("%s: the rogue site is in the charter in force", f.Names[i])
			}
		}
		for _, o := range st.Charter.Operators {
			if o.Name == "rogue" {
				t.Fatalf("%s: the rogue operator is in the charter in force", f.Names[i])
			}
		}
		void := false
		for _, h := range st.History {
			void = void || h.ID == coup.ID.Hex() && h.Void
		}
		if !void {
			t.Fatalf("%s: the charter history does not mark the coup %s void: %+v", f.Names[i], coup.ID, st.History)
		}
	}
	out, err := atoll("charter", "show", "--key", f.KeyFile("admin2"))
	if err != nil || !strings.Contains(out, "void (a signer's key was revoked)") {
		t.Fatalf("charter show: %v\n%s", err, out)
	}
	t.Logf("charter show:\n%s", out)

	// The rogue site: no handshake, on either channel, with any site.
	tr, err := transport.New(transport.Config{Name: "eu-rogue", Key: rogueSite.PrivateKey(), BindAddr: "127.0.0.1:0",
		Peers: charterPeers{fork.Charter()}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown()
	for _, i := range running {
		for _, ch := range []byte{'S', 'P'} {
			if c, err := tr.Dial(ctx, f.addrs[i], f.Names[i], ch); err == nil {
				c.Close()
				t.Fatalf("%s completed a handshake (channel %c) with the rogue site", f.Names[i], ch)
			}
		}
		recs, err := f.Client(i).Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if strings.Contains(r.Peer, "eu-rogue") || strings.Contains(r.Peer, site.FormatKey(rogueSite.Public())) {
				t.Fatalf("%s: an audit record names the rogue site: %+v", f.Names[i], r)
			}
		}
	}
}

// backdate signs ops with the operator's key on its own past (its earlier changes only)
// without submitting them: what a copy of the key can always do.
func backdate(t *testing.T, o *Operator, ops ...crdt.Op) *crdt.Envelope {
	t.Helper()
	env, err := crdt.Sign(o.rep.Prepare(ops, nil), nil, o.key)
	if err != nil {
		t.Fatal(err)
	}
	if res := o.rep.ReceiveEnvelope(env); len(res.Rejected) > 0 {
		t.Fatal(res.Rejected[0].Err)
	}
	return env
}

// waitField waits until every site of sites shows the workload's field with value.
func waitField(ctx context.Context, t *testing.T, f *Fed, sites []int, key, field, value string) {
	t.Helper()
	var last string
	for {
		ok := true
		for _, i := range sites {
			obj, err := f.Client(i).Object(ctx, "workload", key)
			if err != nil || obj[field].Value != value {
				ok, last = false, fmt.Sprintf("%s: %s %s = %q (%v)", f.Names[i], key, field, obj[field].Value, err)
				break
			}
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s %s = %q: %s", key, field, value, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// metricValue scrapes site i's gauge name.
func metricValue(ctx context.Context, t *testing.T, f *Fed, i int, name string) float64 {
	t.Helper()
	fams, err := scrapeMetrics(ctx, f.HTTP(), f.URL(i))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := sample(fams, name)
	if !ok {
		t.Fatalf("%s: no metric %s", f.Names[i], name)
	}
	return v
}
