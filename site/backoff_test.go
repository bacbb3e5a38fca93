package site

import (
	"errors"
	"testing"
	"time"
)

// TestBackoff: the waits after failed passes in a row double from First, stop at Max
// and stay there; a clean pass starts the sequence again.
func TestBackoff(t *testing.T) {
	b := &backoff{First: 100 * time.Millisecond, Max: 30 * time.Second}
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 12800 * ms, 25600 * ms,
		30 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := b.failed(); got != w {
			t.Fatalf("failure %d: wait %v, want %v", i+1, got, w)
		}
	}
	for range 1000 { // no overflow however long it fails
		if got := b.failed(); got != 30*time.Second {
			t.Fatalf("after %d failures: wait %v, want the cap", b.failures, got)
		}
	}
	b.succeeded()
	if got := b.failed(); got != 100*ms {
		t.Fatalf("after a clean pass: wait %v, want First again", got)
	}

	// A Max below First caps the first wait too.
	if got := (&backoff{First: time.Second, Max: 300 * ms}).failed(); got != 300*ms {
		t.Fatalf("First above Max: wait %v", got)
	}
}

// TestRequeueAfter: the loop's decision after a pass, given its result, its error and the
// backoff. A clean pass waits for the resync period or the pass's RequeueAfter, whichever
// comes first, and resets the backoff; a failed one waits the backoff's next step, or
// RequeueAfter if that comes first, and does not reset it.
func TestRequeueAfter(t *testing.T) {
	ms, resync := time.Millisecond, 5*time.Second
	b := &backoff{First: 100 * ms, Max: 30 * time.Second}
	fail := errors.New("apply shop/web in k0: connection refused")
	for i, tc := range []struct {
		res  passResult
		err  error
		want time.Duration
	}{
		{passResult{}, nil, resync},
		{passResult{RequeueAfter: 2 * time.Second}, nil, 2 * time.Second},
		{passResult{RequeueAfter: time.Minute}, nil, resync},
		{passResult{}, fail, 100 * ms},
		{passResult{}, fail, 200 * ms},
		{passResult{RequeueAfter: 300 * ms}, fail, 300 * ms}, // the backoff stepped to 400ms all the same
		{passResult{}, fail, 800 * ms},
		{passResult{}, nil, resync},
		{passResult{}, fail, 100 * ms},
		{passResult{}, fail, 200 * ms},
		{passResult{}, fail, 400 * ms},
		{passResult{}, fail, 800 * ms},
		{passResult{}, fail, 1600 * ms},
		{passResult{}, fail, 3200 * ms},
		{passResult{}, fail, 6400 * ms}, // past the resync period: failures slow down
		{passResult{RequeueAfter: time.Second}, nil, time.Second},
		{passResult{}, fail, 100 * ms},
	} {
		if got := requeueAfter(tc.res, tc.err, b, resync); got != tc.want {
			t.Fatalf("pass %d (%+v, err %v): wait %v, want %v", i, tc.res, tc.err, got, tc.want)
		}
	}
}
