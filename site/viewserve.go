package site

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Headers of GET /v1/view: which view it served and when that view was computed, so that
// a caller can ask for a newer one (?after=SEQ) or see how old it is.
const (
	viewSeqHeader = "Atoll-View-Seq"
	viewAtHeader  = "Atoll-View-At"
)

// defaultViewWait bounds ?fresh and ?after when ?wait is not given.
const defaultViewWait = 30 * time.Second

// handleView serves GET /v1/view: the latest view viewLoop computed, at once (see
// viewcast.current). ?fresh=true waits for a view that holds everything this site stored
// before the request (what a caller that just wrote wants); ?after=SEQ waits for a view
// newer than the one whose Atoll-View-Seq was SEQ (a long poll). Either waits at most
// ?wait (default 30s, at most Tuning.MaxWait): fresh then fails with 503, after answers
// the latest view, whose sequence tells that nothing changed.
//
// ?namespace=A,B, ?q=TEXT, ?limit=N and ?continue=TOKEN page the workloads, from the same
// view and with the caller's scope applied first (viewquery.go): at most 1,000 a page
// (500 unless ?limit), in key order, with View.Page saying how many there are and how
// to go on.
//
// The whole view is sent gzipped to a caller that accepts it, compressed once per view
// (viewgzip.go); a page is sent as it is.
func (s *Site) handleView(w http.ResponseWriter, r *http.Request) {
	q, err := parseViewQuery(r.URL.Query(), s.cfg.Tuning.MaxWait)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	ctx := r.Context()
	var f *viewFrame
	switch {
	case q.fresh || q.hasAfter:
		rc := http.NewResponseController(w) // the wait may outlive the server's write timeout
		_ = rc.SetWriteDeadline(time.Now().Add(q.wait + s.httpLim.WriteTimeout.D()))
		wctx, cancel := context.WithTimeout(ctx, q.wait)
		if q.fresh {
			f, err = s.views.get(wctx)
		} else {
			f, err = s.views.after(wctx, q.after)
		}
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if q.fresh {
				writeErr(w, http.StatusServiceUnavailable, fmt.Errorf("fresh: no view holding what was stored before the request was computed within %v; retry", q.wait))
				return
			}
			f, err = s.views.current(ctx)
		}
	default:
		f, err = s.views.current(ctx)
	}
	if err != nil {
		return // the caller left
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(viewSeqHeader, strconv.FormatUint(f.seq, 10))
	h.Set(viewAtHeader, f.at.UTC().Format(time.RFC3339Nano))
	h.Add("Vary", "Accept-Encoding")
	if !q.paged {
		b := f.encoded(scopeOf(r))
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			b = f.compressed(scopeOf(r)).member
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return
	}
	b, err := json.Marshal(pageView(f.view, scopeOf(r), q))
	if err != nil {
		panic("site: a view that encoded once does not encode paged: " + err.Error())
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}
