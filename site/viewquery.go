package site

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// viewQuery is what a GET /v1/view asks for, parsed from its query string.
type viewQuery struct {
	fresh    bool          // wait for a view holding what was stored before the request
	after    uint64        // with hasAfter: wait for a view whose sequence is beyond
	hasAfter bool          //
	wait     time.Duration // bounds the wait of fresh or after
}

// viewParams are the parameters GET /v1/view takes; any other is refused.
var viewParams = []string{"fresh", "after", "wait"}

// parseViewQuery reads a GET /v1/view query. maxWait bounds ?wait. An error names the
// parameter that is wrong.
func parseViewQuery(v url.Values, maxWait time.Duration) (viewQuery, error) {
	q := viewQuery{wait: min(defaultViewWait, maxWait)}
	for k, vs := range v {
		if !slices.Contains(viewParams, k) {
			return q, fmt.Errorf("unknown parameter %q (want %s)", k, strings.Join(viewParams, ", "))
		}
		if len(vs) > 1 {
			return q, fmt.Errorf("parameter %q given %d times", k, len(vs))
		}
	}
	if s := v.Get("fresh"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, fmt.Errorf("fresh %q: want true or false", s)
		}
		q.fresh = b
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, fmt.Errorf("after %q: want a view sequence (the %s header of an earlier answer)", s, viewSeqHeader)
		}
		q.after, q.hasAfter = n, true
	}
	if s := v.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > maxWait {
			return q, fmt.Errorf("wait %q: want a duration above 0 and at most %v", s, maxWait)
		}
		q.wait = d
	}
	if q.fresh && q.hasAfter {
		return q, fmt.Errorf("fresh and after: give one")
	}
	return q, nil
}
