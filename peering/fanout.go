package peering

import (
	"math/rand/v2"
	"slices"
)

// Pick returns up to k distinct peers chosen at random from live, never exclude. live is
// not modified.
func Pick(rng *rand.Rand, live []string, exclude string, k int) []string {
	cand := make([]string, 0, len(live))
	for _, p := range live {
		if p != exclude {
			cand = append(cand, p)
		}
	}
	slices.Sort(cand) // the result depends only on the set and the rng
	cand = slices.Compact(cand)
	if k >= len(cand) {
		return cand
	}
	for i := range k {
		j := i + rng.IntN(len(cand)-i)
		cand[i], cand[j] = cand[j], cand[i]
	}
	return cand[:k]
}
