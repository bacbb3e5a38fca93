package scheduler

import "math"

// Weights come from signed changes (static weight lists) and from what sites report
// (capacity, status), so sums of them saturate at the int64 limits instead of wrapping
// around: a wrapped sum could turn a heavy site into a weightless one. Within range,
// they are ordinary sums.

// addSat returns a+b, saturated.
func addSat(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s = addSat(s, x)
	}
	return s
}
