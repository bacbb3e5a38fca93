package scheduler

import (
	"container/heap"
	"math/bits"
)

// webster adds k seats to seats (in place) by Webster's method (Sainte-Laguë): each seat
// goes to the party with the highest weight/(seats+0.5). Starting from seats that are not
// all zero gives an incremental allocation, in which no party loses a seat. Parties with
// weight 0 get nothing; if every weight is 0, nothing is added. Ties go to the larger
// weight, then to the party with more seats held before (sticky), then to the lower index.
//
// Its cost does not grow with k: the seats every allocation must contain are computed in
// closed form (prefill), and the heap places the rest, fewer than one per party. The result
// is exactly that of adding the k seats one at a time, which sites on every version compute.
func webster(seats []int, weights []int64, sticky []int, k int) {
	websterFrom(&seatHeap{}, seats, weights, sticky, k, heapOnly)
}

// webster is webster with the planner's heap, whose items it reuses.
func (p *Planner) webster(seats []int, weights []int64, sticky []int, k int) {
	p.heap.items = p.heap.items[:0]
	websterFrom(&p.heap, seats, weights, sticky, k, heapOnly)
}

// heapOnly is the k up to which the heap alone places the seats: cheaper than prefill.
const heapOnly = 64

func websterFrom(h *seatHeap, seats []int, weights []int64, sticky []int, k, small int) {
	for i, w := range weights {
		if w > 0 {
			h.items = append(h.items, seatItem{i: i, w: w, s: seats[i], sticky: at(sticky, i)})
		}
	}
	if len(h.items) == 0 || k <= 0 {
		return
	}
	if k > small {
		k -= prefill(h.items, k)
		for _, it := range h.items {
			seats[it.i] = it.s
		}
	}
	heap.Init(h)
	for ; k > 0; k-- {
		top := &h.items[0]
		top.s++
		seats[top.i]++
		heap.Fix(h, 0)
	}
}

func at(xs []int, i int) int {
	if i < len(xs) {
		return xs[i]
	}
	return 0
}

// prefill gives each party the seats that the first k of the one-at-a-time allocation
// certainly give it, and returns how many it gave (at most k).
//
// Adding seats one at a time hands out the k best slots, slot j of party i (its seat j+1)
// having priority 2w_i/(2j+1), with the heap's ties. Every slot of priority strictly above
// a threshold T ranks before every other slot, so if there are C <= k of them, they are the
// C best, all among the k: each party gets them, and the heap adds the k - C best of what
// is left in the same order as before. T is a slot priority of the heaviest party r,
// T(j) = 2w_r/(2j+1), with j found by bisection as the largest for which C <= k. Between
// T(j+1) and T(j) a party i (w_i <= w_r) has at most one slot (an odd m in an interval of
// length 2w_i/w_r <= 2), so fewer seats than parties are left to the heap. Every
// comparison is exact, in 128-bit integers.
func prefill(items []seatItem, k int) int {
	r := 0
	for i := range items {
		if items[i].w > items[r].w {
			r = i
		}
	}
	num, limit := 2*uint64(items[r].w), uint64(k)
	// C(T(0)) = 0: no slot has a priority above 2w_r. C(T(s_r+k+1)) > k: party r alone has
	// its slots s_r..s_r+k above it. hi stays below 1<<63 so that 2j+1 fits in 64 bits.
	lo, hi := uint64(0), min(uint64(items[r].s)+limit+1, 1<<63-1)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if count(items, num, 2*mid+1, limit) <= limit {
			lo = mid
		} else {
			hi = mid
		}
	}
	c := count(items, num, 2*lo+1, limit)
	for i := range items {
		items[i].s += int(above(&items[i], num, 2*lo+1))
	}
	return int(c)
}

// count returns how many slots beyond the seats held have a priority above num/den; a
// total above limit is reported as limit+1.
func count(items []seatItem, num, den, limit uint64) uint64 {
	var total uint64
	for i := range items {
		total += above(&items[i], num, den)
		if total > limit {
			return limit + 1
		}
	}
	return total
}

// above counts the slots j >= s of the party with priority 2w/(2j+1) > num/den, that is
// with odd m = 2j+1 such that m*num < 2w*den; saturated at 1<<63.
func above(it *seatItem, num, den uint64) uint64 {
	hi, lo := bits.Mul64(2*uint64(it.w), den)
	var borrow uint64
	lo, borrow = bits.Sub64(lo, 1, 0)
	hi -= borrow
	if hi >= num {
		return 1 << 63 // more slots than any k
	}
	m, _ := bits.Div64(hi, lo, num) // the largest m with m*num < 2w*den
	odd := m/2 + m&1                // odd numbers in 1..m
	if odd > 1<<63 {
		odd = 1 << 63
	}
	if s := uint64(it.s); odd > s {
		return odd - s
	}
	return 0
}

type seatItem struct {
	i      int
	w      int64
	s      int
	sticky int
}

type seatHeap struct{ items []seatItem }

func (h *seatHeap) Len() int { return len(h.items) }

// Less orders by priority w/(s+0.5), compared exactly as w_a*(2s_b+1) > w_b*(2s_a+1) in
// 128 bits, so that no weight or seat count overflows.
func (h *seatHeap) Less(a, b int) bool {
	x, y := &h.items[a], &h.items[b]
	lh, ll := bits.Mul64(uint64(x.w), 2*uint64(y.s)+1)
	rh, rl := bits.Mul64(uint64(y.w), 2*uint64(x.s)+1)
	if lh != rh {
		return lh > rh
	}
	if ll != rl {
		return ll > rl
	}
	if x.w != y.w {
		return x.w > y.w
	}
	if x.sticky != y.sticky {
		return x.sticky > y.sticky
	}
	return x.i < y.i
}
func (h *seatHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *seatHeap) Push(x any)    { h.items = append(h.items, x.(seatItem)) }
func (h *seatHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
