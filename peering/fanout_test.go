package peering

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func siteNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("site-%02d", i)
	}
	return out
}

func TestPickProperties(t *testing.T) {
	for seed := range uint64(50) {
		shuffle := rand.New(rand.NewPCG(seed, 99))
		for n := range 13 {
			for _, exclude := range []string{"", "site-00", "site-05", "elsewhere"} {
				for k := range 15 {
					live := siteNames(n)
					shuffle.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
					before := slices.Clone(live)
					got := Pick(rand.New(rand.NewPCG(seed, 7)), live, exclude, k)
					where := fmt.Sprintf("seed %d, %d live, exclude %q, k %d: Pick = %q", seed, n, exclude, k, got)
					if !slices.Equal(live, before) {
						t.Fatalf("%s: live changed from %q to %q", where, before, live)
					}
					cand := 0
					for _, p := range live {
						if p != exclude {
							cand++
						}
					}
					if len(got) != min(k, cand) {
						t.Fatalf("%s: %d peers, want min(k, %d candidates) = %d", where, len(got), cand, min(k, cand))
					}
					seen := map[string]bool{}
					for _, p := range got {
						if p == exclude {
							t.Fatalf("%s: returned the excluded peer", where)
						}
						if seen[p] {
							t.Fatalf("%s: %q twice", where, p)
						}
						if !slices.Contains(live, p) {
							t.Fatalf("%s: %q is not live", where, p)
						}
						seen[p] = true
					}
				}
			}
		}
	}
}

// TestPickDeterministic: the result depends on the rng and the set of live peers, not on
// the order the caller lists them in.
func TestPickDeterministic(t *testing.T) {
	live := siteNames(10)
	results := map[string]bool{}
	for seed := range uint64(30) {
		want := Pick(rand.New(rand.NewPCG(seed, 1)), live, "site-03", 3)
		results[fmt.Sprint(want)] = true
		shuffle := rand.New(rand.NewPCG(seed, 2))
		for range 10 {
			order := slices.Clone(live)
			shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			if got := Pick(rand.New(rand.NewPCG(seed, 1)), order, "site-03", 3); !slices.Equal(got, want) {
				t.Fatalf("seed %d: Pick(%q) = %q, Pick(%q) = %q", seed, live, want, order, got)
			}
		}
	}
	if len(results) < 10 {
		t.Errorf("30 seeds gave only %d different picks: the rng barely matters", len(results))
	}
}

// TestPickUniform: over 10,000 draws of 3 among 10 candidates each is picked about 30% of
// the time. The seed is fixed, so the test is deterministic.
func TestPickUniform(t *testing.T) {
	const draws, k = 10000, 3
	live := append(siteNames(10), "me")
	rng := rand.New(rand.NewPCG(1, 2))
	count := map[string]int{}
	for range draws {
		for _, p := range Pick(rng, live, "me", k) {
			count[p]++
		}
	}
	for _, p := range live[:10] {
		if c := count[p]; c < draws*20/100 || c > draws*40/100 {
			t.Errorf("%s picked in %d of %d draws, want 20%%..40%%", p, c, draws)
		}
	}
	if count["me"] != 0 {
		t.Errorf("the excluded peer was picked %d times", count["me"])
	}
}

// TestPickDuplicateLive: Pick documents "up to k distinct peers", but a name listed twice
// in live can come back twice. site passes map keys, so it does not happen there today.
func TestPickDuplicateLive(t *testing.T) {
	live := []string{"a", "a", "b", "b", "c"}
	for seed := range uint64(100) {
		got := Pick(rand.New(rand.NewPCG(seed, 0)), live, "c", 2)
		if len(got) == 2 && got[0] == got[1] {
			t.Fatalf("seed %d: Pick(%q, exclude c, 2) = %q", seed, live, got)
		}
	}
}
