package scheduler

import "container/heap"

// webster adds k seats to seats (in place) by Webster's method (Sainte-Laguë): each seat
// goes to the party with the highest weight/(seats+0.5). Starting from seats that are not
// all zero gives an incremental allocation, in which no party loses a seat. Parties with
// weight 0 get nothing; if every weight is 0, nothing is added. Ties go to the larger
// weight, then to the party with more seats held before (sticky), then to the lower index.
func webster(seats []int, weights []int64, sticky []int, k int) {
	h := &seatHeap{}
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

func at(xs []int, i int) int {
	if i < len(xs) {
		return xs[i]
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

// Less orders by priority w/(s+0.5), compared exactly as w_a*(2s_b+1) > w_b*(2s_a+1).
func (h *seatHeap) Less(a, b int) bool {
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
func (h *seatHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *seatHeap) Push(x any)    { h.items = append(h.items, x.(seatItem)) }
func (h *seatHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
