package scheduler

import (
	"fmt"
	"testing"
)

// BenchmarkWebster is the cost of one division against the replicas divided: 10 parties
// (a site's clusters, or the sites of a federation) with unequal weights, from nothing.
// "oneByOne" is the method before prefill (oracleWebster, one heap iteration per seat),
// run up to 1e7 replicas: 1e8 takes 6 s, 9e18 would take centuries.
//
//	go test ./scheduler -run '^$' -bench Webster -count 5
func BenchmarkWebster(b *testing.B) {
	weights := []int64{7, 3, 3, 1, 12, 5, 8, 2, 9, 4}
	sticky := []int{0, 2, 0, 0, 1, 0, 0, 0, 3, 0}
	for _, m := range []struct {
		name string
		max  int
		fn   func([]int, []int64, []int, int)
	}{{"oneByOne", 1e7, oracleWebster}, {"closedForm", 9e18, webster}} {
		for _, k := range []int{1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 9e18} {
			if k > m.max {
				continue
			}
			b.Run(fmt.Sprintf("%s/replicas=%.0e", m.name, float64(k)), func(b *testing.B) {
				seats := make([]int, len(weights))
				for b.Loop() {
					clear(seats)
					m.fn(seats, weights, sticky, k)
				}
			})
		}
	}
}
