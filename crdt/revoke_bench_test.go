package crdt

import (
	"fmt"
	"testing"
)

// BenchmarkRevocation measures what a charter change costs a replica holding n changes:
// "plain" when no change held revokes a key (the charter of the past is built
// incrementally, nothing is void), "revoking" when one does (the charter of everything
// held is decided again and every change held is checked; the state is rebuilt when
// what is void changed). docs/BENCHMARKS.md has the figures.
func BenchmarkRevocation(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, mode := range []string{"plain", "revoking"} {
			b.Run(fmt.Sprintf("%s/changes=%d", mode, n), func(b *testing.B) {
				f := newFed(b)
				r := f.replica(b, "eu-west")
				for i := range n {
					mustWrite(b, r, f.sites["eu-west"], set(KindSite, "eu-west", "version", fmt.Sprint(i%100)))
				}
				if mode == "revoking" {
					// shopdev rotated: a key revoked, so every later charter change re-decides.
					if _, _, err := r.Write(f.admins[0], []Op{{Type: OpSet, Kind: KindCharter, Field: "operator/shopdev/key", Value: pubOf(key("shopdev 2"))}}, nil, nil, f.admins[1]); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if _, _, err := r.Write(f.admins[0], []Op{set(KindCharter, "", "site/eu-west/region", fmt.Sprint("r", i))}, nil, nil, f.admins[1]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func pubOf(s *Signer) []byte { p := s.Public(); return p[:] }

// BenchmarkRebuildState measures the rebuild of the state from the changes held, which a
// charter change pays when it changes which changes are void.
func BenchmarkRebuildState(b *testing.B) {
	f := newFed(b)
	r := f.replica(b, "eu-west")
	for i := range 100_000 {
		mustWrite(b, r, f.sites["eu-west"], set(KindSite, "eu-west", "version", fmt.Sprint(i%100)))
	}
	want := r.Digest()
	b.ResetTimer()
	for b.Loop() {
		r.rebuildState()
	}
	b.StopTimer()
	if r.Digest() != want {
		b.Fatal("the rebuilt state differs")
	}
}
