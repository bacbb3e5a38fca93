package crdt

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRIBLTDecodesDifference(t *testing.T) {
	for _, d := range []int{0, 1, 10, 100, 1000} {
		seed := uint64(d) + 1
		rng := rand.New(rand.NewPCG(seed, seed))
		common := make([]uint64, 5000)
		for i := range common {
			common[i] = rng.Uint64()
		}
		var a, b, onlyA, onlyB []uint64
		a = append(a, common...)
		b = append(b, common...)
		for i := 0; i < d; i++ {
			k := rng.Uint64()
			if i%2 == 0 {
				a, onlyA = append(a, k), append(onlyA, k)
			} else {
				b, onlyB = append(b, k), append(onlyB, k)
			}
		}
		enc, dec := newRIBLTEncoder(a), newRIBLTDecoder(b)
		sent := 0
		for batch := 16; ; batch *= 2 {
			sent += batch
			if dec.add(enc.next(batch)) {
				break
			}
			if sent > 100*d+1000 {
				t.Fatalf("seed %d d=%d: not decoded after %d symbols", seed, d, sent)
			}
		}
		slices.Sort(onlyA)
		slices.Sort(onlyB)
		slices.Sort(dec.remote)
		slices.Sort(dec.mine)
		if !slices.Equal(dec.remote, onlyA) || !slices.Equal(dec.mine, onlyB) {
			t.Fatalf("seed %d d=%d: decoded %d/%d keys, want %d/%d", seed, d, len(dec.remote), len(dec.mine), len(onlyA), len(onlyB))
		}
		t.Logf("d=%d decoded after %d symbols", d, sent)
	}
}
