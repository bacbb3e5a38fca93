package scheduler

import (
	"container/heap"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// oracleWebster is webster as it was before prefill: one seat per heap iteration, with
// the 64-bit comparison. Sites of earlier versions divide with it, so webster must give
// exactly its result wherever its products do not overflow.
func oracleWebster(seats []int, weights []int64, sticky []int, k int) {
	h := &oracleHeap{}
	for i, w := range weights {
		if w > 0 {
			h.items = append(h.items, seatItem{i: i, w: w, s: seats[i], sticky: at(sticky, i)})
		}
	}
	if len(h.items) == 0 {
		return
	}
	heap.Init(h)
	for ; k > 0; k-- {
		top := &h.items[0]
		top.s++
		seats[top.i]++
		heap.Fix(h, 0)
	}
}

type oracleHeap struct{ items []seatItem }

func (h *oracleHeap) Len() int { return len(h.items) }
func (h *oracleHeap) Less(a, b int) bool {
	x, y := &h.items[a], &h.items[b]
	l, r := x.w*int64(2*y.s+1), y.w*int64(2*x.s+1)
	if l != r {
		return l > r
	}
	if x.w != y.w {
		return x.w > y.w
	}
	if x.sticky != y.sticky {
		return x.sticky > y.sticky
	}
	return x.i < y.i
}
func (h *oracleHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *oracleHeap) Push(x any)    { h.items = append(h.items, x.(seatItem)) }
func (h *oracleHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// websterRand returns the property tests' generator; the seed is logged to replay a failure.
func websterRand(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./scheduler -run %s -seed %d)", seed, t.Name(), seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// randomSeats is a division problem whose products stay far below 1<<63 in the oracle:
// weights below 1<<31, seats and k below 1<<20. Small weight sets and equal seats make
// ties in priority frequent, so that the tie rules are exercised.
func randomSeats(r *rand.Rand) (seats []int, weights []int64, sticky []int, k int) {
	n := 1 + r.IntN(12)
	seats, weights, sticky = make([]int, n), make([]int64, n), make([]int, n)
	wmax := []int64{1, 3, 6, 100, 1e6, 1 << 31}[r.IntN(6)]
	smax := []int{1, 3, 50, 5000}[r.IntN(4)]
	for i := range n {
		weights[i] = r.Int64N(wmax + 1)
		if r.IntN(8) == 0 {
			weights[i] = -r.Int64N(5) // non-positive weights get nothing
		}
		if r.IntN(2) == 0 {
			seats[i] = r.IntN(smax)
		}
		sticky[i] = r.IntN(3)
	}
	if r.IntN(4) == 0 {
		sticky = sticky[:r.IntN(n+1)] // shorter than the parties, as Divide passes nil
	}
	k = []int{0, 1, 2, r.IntN(64), r.IntN(1000), r.IntN(20_000)}[r.IntN(6)]
	return seats, weights, sticky, k
}

func TestPropertyWebsterMatchesOracle(t *testing.T) {
	r := websterRand(t)
	for c := range 5 * *caseFlag {
		seats, weights, sticky, k := randomSeats(r)
		want := slices.Clone(seats)
		oracleWebster(want, weights, sticky, k)
		for _, small := range []int{0, 1, heapOnly} { // 0: prefill whatever k
			got := slices.Clone(seats)
			websterFrom(&seatHeap{}, got, weights, sticky, k, small)
			if !slices.Equal(got, want) {
				t.Fatalf("case %d small %d: seats %v weights %v sticky %v k %d: got %v, the oracle %v",
					c, small, seats, weights, sticky, k, got, want)
			}
		}
	}
}

// TestPropertyWebsterHugeWeights compares prefill with the heap alone (whose comparison
// is exact in 128 bits) where the oracle's products would overflow.
func TestPropertyWebsterHugeWeights(t *testing.T) {
	r := websterRand(t)
	for c := range 2 * *caseFlag {
		seats, weights, sticky, k := randomSeats(r)
		for i := range weights {
			if r.IntN(2) == 0 {
				weights[i] = math.MaxInt64 - r.Int64N(3)
			} else if weights[i] > 0 {
				weights[i] <<= 30
			}
		}
		k = min(k, 5000)
		want := slices.Clone(seats)
		websterFrom(&seatHeap{}, want, weights, sticky, k, math.MaxInt)
		got := slices.Clone(seats)
		websterFrom(&seatHeap{}, got, weights, sticky, k, 0)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: seats %v weights %v sticky %v k %d: got %v, the heap alone %v", c, seats, weights, sticky, k, got, want)
		}
	}
}

// checkWebster checks that from zero seats, got is a Webster allocation of k seats: the
// sum is k, no party of weight <= 0 has a seat, and every seat beats every seat not given
// (w_i/(a_i-0.5) >= w_j/(a_j+0.5)), compared exactly.
func checkWebster(t *testing.T, weights []int64, k int, got []int) {
	t.Helper()
	total := 0
	for i, a := range got {
		total += a
		if weights[i] <= 0 && a > 0 {
			t.Fatalf("weights %v k %d: party %d of weight %d got %d", weights, k, i, weights[i], a)
		}
	}
	if positive := slices.ContainsFunc(weights, func(w int64) bool { return w > 0 }); total != k && positive || total != 0 && !positive {
		t.Fatalf("weights %v k %d: %d seats given: %v", weights, k, total, got)
	}
	odd := func(a int, d int64) *big.Int { // 2a+d
		x := new(big.Int).Lsh(big.NewInt(int64(a)), 1)
		return x.Add(x, big.NewInt(d))
	}
	for i, a := range got {
		if a == 0 {
			continue
		}
		for j, b := range got {
			if weights[j] <= 0 {
				continue
			}
			// w_i*(2b+1) >= w_j*(2a-1)
			l := new(big.Int).Mul(big.NewInt(weights[i]), odd(b, 1))
			rr := new(big.Int).Mul(big.NewInt(weights[j]), odd(a, -1))
			if l.Cmp(rr) < 0 {
				t.Fatalf("weights %v k %d: got %v: the last seat of %d ranks below the next of %d", weights, k, got, i, j)
			}
		}
	}
}

func TestWebsterEdges(t *testing.T) {
	for _, tc := range []struct {
		weights []int64
		k       int
	}{
		{nil, 5},
		{[]int64{0, 0, 0}, 1000},
		{[]int64{-1, 0}, 1e9},
		{[]int64{5}, 0},
		{[]int64{5}, 1},
		{[]int64{5}, 9e18},
		{[]int64{1, 1}, 1},
		{[]int64{1, 1, 1}, 1e9 + 1},
		{[]int64{3, 0, 7}, 1e5},
		{[]int64{7, 3, 3, 1, 12, 5, 8, 2, 9, 4}, 1e9},
		{[]int64{7, 3, 3, 1, 12, 5, 8, 2, 9, 4}, 9e18},
		{[]int64{math.MaxInt64, 1, math.MaxInt64 - 1}, 1e6},
		{[]int64{math.MaxInt64, 1, math.MaxInt64 - 1}, 9e18},
		{[]int64{math.MaxInt64}, math.MaxInt},
		{[]int64{1 << 40, 1 << 40, 3}, math.MaxInt},
	} {
		got := make([]int, len(tc.weights))
		webster(got, tc.weights, nil, tc.k)
		checkWebster(t, tc.weights, tc.k, got)
		if tc.k <= 1e5 {
			want := make([]int, len(tc.weights))
			oracleWebster(want, tc.weights, nil, tc.k)
			if !slices.Equal(got, want) && tc.weights[0] != math.MaxInt64 {
				t.Fatalf("weights %v k %d: got %v, the oracle %v", tc.weights, tc.k, got, want)
			}
		}
	}
}

// TestPropertyWebsterLarge checks allocations of up to 9e18 seats, out of the oracle's
// reach, against the definition of Webster's method.
func TestPropertyWebsterLarge(t *testing.T) {
	r := websterRand(t)
	for range *caseFlag {
		n := 1 + r.IntN(10)
		weights := make([]int64, n)
		for i := range weights {
			weights[i] = r.Int64N([]int64{3, 1000, 1 << 40, math.MaxInt64}[r.IntN(4)])
		}
		k := int(r.Int64N([]int64{1e6, 1e12, 9e18}[r.IntN(3)]))
		got := make([]int, n)
		webster(got, weights, nil, k)
		checkWebster(t, weights, k, got)
	}
}
