package e2e

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site"
	"atoll/site/transport"
)

// byzantine is a charter site run by the test instead of by atoll: it holds a real
// identity and talks through a real transport, but sends whatever the test wants.
type byzantine struct {
	t      *testing.T
	f      *Fed
	signer *crdt.Signer
	rep    *crdt.Replica
	tr     *transport.Transport
}

type charterPeers struct{ c *crdt.Charter }

func (p charterPeers) Lookup(k ed25519.PublicKey) (string, bool) {
	if info, ok := p.c.Sites[crdt.PubKey(k)]; ok {
		return info.Name, true
	}
	return "", false
}

func newByzantine(t *testing.T, f *Fed, i int) *byzantine {
	signer, err := site.LoadKeyFile(filepath.Join(f.opts.Dir, f.Names[i]+".key"))
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := os.ReadFile(filepath.Join(f.opts.Dir, "genesis.atoll"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: signer.Public()})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.New(transport.Config{
		Name: f.Names[i], Key: signer.PrivateKey(), BindAddr: "127.0.0.1:0",
		Peers: charterPeers{rep.Charter()}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Shutdown() })
	return &byzantine{t: t, f: f, signer: signer, rep: rep, tr: tr}
}

// stream opens a push stream to site i.
func (b *byzantine) stream(i int) (io.WriteCloser, *bufio.Writer) {
	c, err := b.tr.Dial(b.t.Context(), b.f.addrs[i], b.f.Names[i], 'P')
	if err != nil {
		b.t.Fatal(err)
	}
	return c, bufio.NewWriter(c)
}

// change signs ops on top of the genesis with the Byzantine site's key.
func (b *byzantine) change(ops ...crdt.Op) *crdt.Envelope {
	env, err := crdt.Sign(b.rep.Prepare(ops, nil), nil, b.signer)
	if err != nil {
		b.t.Fatal(err)
	}
	return env
}

func send(t *testing.T, w *bufio.Writer, frames ...[]byte) {
	t.Helper()
	for _, fr := range frames {
		if err := peering.WriteFrame(w, fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestByzantine runs four correct sites and one hostile one that forges, writes out of
// scope, equivocates, sends junk and floods. Correct sites must keep serving each other,
// store nothing invalid, and converge.
func TestByzantine(t *testing.T) {
	f := start(t, Options{Sites: 5, Late: 1})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	byz := newByzantine(t, f, 4)
	own := func(v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindSite, Key: f.Names[4], Field: "version", Value: []byte(v)}
	}
	c0, w0 := byz.stream(0)
	defer c0.Close()
	c1, w1 := byz.stream(1)
	defer c1.Close()

	// Forged: s00 named as the author of a change s04 signed.
	forged := byz.change(own("forged")).Header
	victim := byz.rep.Charter()
	for k, info := range victim.Sites {
		if info.Name == f.Names[0] {
			copy(forged[1:33], k[:])
		}
	}
	forgedEnv := (&crdt.Envelope{Header: forged}).EncodeHeaderOnly()
	// Out of scope: another site's cluster.
	scope := byz.change(crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: f.Names[0] + "/c0", Field: "health", Value: []byte("down")})
	// Equivocation: two valid changes on the same heads, one to each of two sites.
	eqA, eqB := byz.change(own("a")), byz.change(own("b"))
	good := byz.change(own("good"))
	send(t, w0, forgedEnv, scope.Encode(), []byte("junk"), good.Encode()[:40], eqA.Encode())
	send(t, w1, eqB.Encode(), good.Encode())

	// Both halves of the equivocation are valid and reach everyone; nothing invalid does.
	for _, env := range []*crdt.Envelope{eqA, eqB, good} {
		if _, err := f.Visible(ctx, env.ID.Hex(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	bad := map[string]crdt.Hash{"out of scope": scope.ID}
	if e, err := crdt.DecodeEnvelope(forgedEnv); err == nil {
		bad["forged"] = e.ID
	}

	// Flood: a stream of invalid changes until the victim cuts the peer off, then an
	// oversized frame on a new stream. Meanwhile correct sites' writes must flow.
	c2, w2 := byz.stream(2)
	defer c2.Close()
	for k := range 200 {
		env := byz.change(crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "shop/w", Field: "replicas", Value: []byte(Seq(k))})
		if peering.WriteFrame(w2, env.Encode()) != nil {
			break
		}
		bad[fmt.Sprintf("flood %d", k)] = env.ID
	}
	_ = w2.Flush()
	c3, w3 := byz.stream(3)
	defer c3.Close()
	hdr := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // a frame length of 4 GiB
	_, _ = w3.Write(hdr)
	_ = w3.Flush()

	// Silent sessions: the victim serves two at once from one peer and refuses the rest.
	for range 4 {
		c, err := byz.tr.Dial(ctx, f.addrs[0], f.Names[0], 'S')
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if err := f.waitFor(ctx, "silent sessions refused", func(m map[int]site.State) bool {
		return m[0].Counters["refusedFrames"] >= 2
	}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	id, err := f.Write(ctx, 2, "during", "flood")
	if err != nil {
		t.Fatal(err)
	}
	lat, err := f.Visible(ctx, id, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a write at the flooded site was visible everywhere in %v", maxOf(lat))
	start = time.Now()
	id, err = f.Write(ctx, 0, "during", "silent sessions")
	if err != nil {
		t.Fatal(err)
	}
	if lat, err = f.Visible(ctx, id, start); err != nil {
		t.Fatal(err)
	}
	t.Logf("a write at the site with silent sessions open was visible everywhere in %v", maxOf(lat))

	checkConverged(t, f, time.Minute)
	for what, id := range bad {
		for _, i := range f.RunningSites() {
			if ok, err := f.Client(i).Has(ctx, id.Hex(), 0); err != nil || ok {
				t.Fatalf("%s: %s change %s held: %v %v", f.Names[i], what, id, ok, err)
			}
		}
	}
	sts, err := f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].Counters["rejected"] == 0 || sts[2].Counters["rejected"] == 0 {
		t.Fatalf("victims counted no rejected changes: %v / %v", sts[0].Counters, sts[2].Counters)
	}
	if sts[2].Counters["refusedFrames"] == 0 {
		t.Fatalf("the flooded site never cut the flooding peer off: %v", sts[2].Counters)
	}
}

func maxOf(m map[int]time.Duration) time.Duration {
	var out time.Duration
	for _, d := range m {
		out = max(out, d)
	}
	return out
}
