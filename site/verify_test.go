package site

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"atoll/crdt"
)

// TestVerifiedSetBound: the set keeps at most its capacity; the oldest ids go first.
func TestVerifiedSetBound(t *testing.T) {
	v := newVerifiedSet(8)
	id := func(i int) crdt.Hash { return crdt.Hash{byte(i), byte(i >> 8)} }
	for i := range 20 {
		v.Add(id(i))
		v.Add(id(i)) // twice: still one slot
	}
	if v.len() != 8 {
		t.Fatalf("%d ids held, capacity 8", v.len())
	}
	for i := range 20 {
		if want := i >= 12; v.Has(id(i)) != want {
			t.Fatalf("id %d held: %v, want %v", i, v.Has(id(i)), want)
		}
	}
}

// burstFrom returns n changes written by site b, and one of them forged (a flipped
// signature byte) as the last.
func burstFrom(t testing.TB, genesis []byte, b *crdt.Signer, n int) (good [][]byte, forged []byte) {
	t.Helper()
	rb, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: b.Public()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		env, _, err := rb.Write(b, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: crdt.StatusKey("web", fmt.Sprint("w", i), "b", "c1"),
			Field: "ready", Value: []byte(strconv.Itoa(i))}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, env.Encode())
	}
	forged = append([]byte(nil), good[n-1]...)
	forged[len(forged)-10] ^= 1 // inside the signature
	return good[:n-1], forged
}

// TestVerifierBurst: a running site checks a peer's burst on its pool; the good changes
// are remembered and stored, the forged one is not remembered, and the replica still
// refuses it for its signature.
func TestVerifierBurst(t *testing.T) {
	s, b, _, genesis := openTestSite(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s.ctx = ctx
	s.verify.run(ctx, &wg)
	defer func() { cancel(); wg.Wait() }()
	good, forged := burstFrom(t, genesis, b, 40)
	held := s.rep.Len()
	s.receivePush("b", append(append([][]byte(nil), good...), forged))
	if got := s.rep.Len() - held; got != len(good) {
		t.Fatalf("%d changes stored, want %d", got, len(good))
	}
	for _, raw := range good {
		env, _ := crdt.DecodeEnvelope(raw)
		if !s.verify.set.Has(env.ID) {
			t.Fatalf("good change %s not checked on the pool", env.ID)
		}
	}
	env, _ := crdt.DecodeEnvelope(forged)
	if s.verify.set.Has(env.ID) {
		t.Fatal("the forged change was remembered as verified")
	}
	if got := s.counter.rejected.Load(); got != 1 {
		t.Fatalf("%d changes rejected, want the forged one", got)
	}
}

// BenchmarkBurst receives a burst of 256 changes from a peer into a fresh replica:
// "serial" as the replica verifies them one after another (under the site's lock),
// "pool" with the verifier checking them first on every core. ns/op is per burst.
func BenchmarkBurst(b *testing.B) {
	peer := crdt.SignerFromSeed([]byte(strings.Repeat("b", 32)))
	admin := crdt.SignerFromSeed([]byte(strings.Repeat("admin", 32)[:32]))
	env, err := crdt.NewGenesis(crdt.CharterSpec{Name: "bench", Threshold: 1,
		Admins: []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites:  []crdt.SiteInfo{{Name: "b", Key: peer.Public(), Region: "r2", Jurisdiction: "US"}},
	}, admin)
	if err != nil {
		b.Fatal(err)
	}
	genesis := env.Encode()
	good, _ := burstFrom(b, genesis, peer, 257)
	for _, pool := range []bool{false, true} {
		b.Run(map[bool]string{false: "serial", true: "pool"}[pool], func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			v := newVerifier()
			if pool {
				v.run(ctx, &wg)
			}
			for b.Loop() {
				b.StopTimer()
				v.set = newVerifiedSet(maxVerified)
				rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Verified: v.set})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				v.check(ctx, good)
				for _, raw := range good {
					if res := rep.Receive(raw); len(res.Stored) != 1 {
						b.Fatalf("not stored: %+v", res)
					}
				}
			}
		})
	}
}
