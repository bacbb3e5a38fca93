package site

import "time"

// passResult is what one reconcile pass asks of the loop that runs it, in the shape of
// controller-runtime's reconcile.Result: RequeueAfter > 0 asks for the next pass at
// most that much later, because the pass's inputs change by themselves then (the view
// of liveness settles). A pass that did not complete returns an error besides.
type passResult struct {
	RequeueAfter time.Duration
}

// backoff is the wait before the reconcile loop retries a pass that failed: First after
// one failure, doubled with each failure in a row up to Max, First again after a clean
// pass. It is client-go's ItemExponentialFailureRateLimiter (controller-runtime's
// requeue limiter) for the one item a site reconciles, without its token bucket: there
// is no queue of keys to throttle. No jitter either: each member cluster is reconciled
// by one site, so no herd of retries meets there. It reads no clock; the loop waits.
type backoff struct {
	First, Max time.Duration
	failures   int // failed passes in a row
}

// failed counts one more failed pass and returns the wait before the next:
// min(First * 2^(failures-1), Max).
func (b *backoff) failed() time.Duration {
	d := b.First
	for i := 0; i < b.failures && d < b.Max; i++ {
		d *= 2
	}
	b.failures++
	return min(d, b.Max)
}

// succeeded resets the sequence after a clean pass.
func (b *backoff) succeeded() { b.failures = 0 }

// requeueAfter returns how long the reconcile loop waits for its next pass when nothing
// wakes it sooner (stored changes, a change of liveness): after a failed pass, the next
// wait of the backoff; after a clean one, which resets it, the resync period. Either way
// no later than the pass's RequeueAfter: unlike controller-runtime, which ignores the
// result of a failed Reconcile, one pass here covers every cluster, and a cluster that
// fails must not delay the others' response to liveness.
func requeueAfter(res passResult, err error, b *backoff, resync time.Duration) time.Duration {
	wait := resync
	if err != nil {
		wait = b.failed()
	} else {
		b.succeeded()
	}
	if res.RequeueAfter > 0 {
		wait = min(wait, res.RequeueAfter)
	}
	return wait
}
