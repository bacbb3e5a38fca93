package scheduler

// Completions divides a divided Job's completions among the shares of its parallelism
// (its replicas), in proportion to them: one completion to each share with replicas
// first, while they last (a cluster that runs the Job's pods has something to
// complete), then the rest by Webster's method over the shares, as replicas are divided.
// The parts sum to completions when some share has replicas; a share without replicas
// gets none. Sites apply it twice, as the scheduler divides replicas: among the sites'
// shares, then each site's part among its clusters' shares, so that every site computes
// the same parts from the same division.
func Completions(completions int, shares []int) []int {
	out := make([]int, len(shares))
	weights := make([]int64, len(shares))
	n := 0
	for i, s := range shares {
		if s > 0 {
			weights[i] = int64(s)
			n++
		}
	}
	if completions <= 0 || n == 0 {
		return out
	}
	if completions >= n {
		for i, w := range weights {
			if w > 0 {
				out[i] = 1
			}
		}
		completions -= n
	}
	webster(out, weights, nil, completions)
	return out
}
