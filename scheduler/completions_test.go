package scheduler

import (
	"math/rand"
	"slices"
	"testing"
)

// TestCompletions: the parts sum to the completions, follow the shares, give each share
// with replicas one first, and give nothing to a share without replicas.
func TestCompletions(t *testing.T) {
	for _, tc := range []struct {
		completions int
		shares      []int
		want        []int
	}{
		{4, []int{1, 1}, []int{2, 2}},
		{5, []int{1, 1}, []int{3, 2}}, // ties go to the lower index, as replicas do
		{6, []int{2, 1}, []int{4, 2}},
		{10, []int{9, 1}, []int{9, 1}},
		{3, []int{5, 1}, []int{2, 1}}, // one each first, then by weight
		{2, []int{1, 0, 1}, []int{1, 0, 1}},
		{1, []int{1, 1}, []int{1, 0}}, // fewer completions than shares: Webster alone
		{0, []int{1, 1}, []int{0, 0}},
		{7, []int{0, 0}, []int{0, 0}},
		{7, nil, []int{}},
	} {
		if got := Completions(tc.completions, tc.shares); !slices.Equal(got, tc.want) {
			t.Errorf("Completions(%d, %v) = %v, want %v", tc.completions, tc.shares, got, tc.want)
		}
	}
}

// TestCompletionsProperties: over random shares, the parts sum to the completions, each
// share with replicas gets at least one when there are enough, each part above that
// floor is within one of its quota, and two levels (sites, then clusters) sum alike.
func TestCompletionsProperties(t *testing.T) {
	seed := int64(19)
	r := rand.New(rand.NewSource(seed))
	for i := range 2000 {
		shares := make([]int, 1+r.Intn(6))
		total, n := 0, 0
		for j := range shares {
			if r.Intn(4) > 0 {
				shares[j] = r.Intn(20)
			}
			total += shares[j]
			if shares[j] > 0 {
				n++
			}
		}
		c := r.Intn(200)
		got := Completions(c, shares)
		sum := 0
		for j, g := range got {
			sum += g
			switch {
			case shares[j] == 0 && g != 0:
				t.Fatalf("seed %d run %d: Completions(%d, %v) = %v: a share without replicas got %d", seed, i, c, shares, got, g)
			case shares[j] > 0 && c >= n && g < 1:
				t.Fatalf("seed %d run %d: Completions(%d, %v) = %v: a share with replicas got none", seed, i, c, shares, got)
			}
			if q := float64(c) * float64(shares[j]) / float64(total); shares[j] > 0 && c >= n && g > 1 && (float64(g) < q-1 || float64(g) > q+1) {
				t.Fatalf("seed %d run %d: Completions(%d, %v) = %v: part %d is %d, its quota %.2f", seed, i, c, shares, got, j, g, q)
			}
		}
		if total > 0 && sum != c || total == 0 && sum != 0 {
			t.Fatalf("seed %d run %d: Completions(%d, %v) = %v sums to %d", seed, i, c, shares, got, sum)
		}
		// Two levels: each part divided again among sub-shares sums to the whole.
		all := 0
		for j, g := range got {
			sub := []int{shares[j] / 2, shares[j] - shares[j]/2}
			for _, x := range Completions(g, sub) {
				all += x
			}
		}
		if all != sum {
			t.Fatalf("seed %d run %d: two levels sum to %d, one to %d", seed, i, all, sum)
		}
	}
}
