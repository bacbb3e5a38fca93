package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"atoll/crdt"
)

// ViewReport is the outcome of RunView: GET /v1/view at one site holding many
// workloads while streams are open, as a dashboard fleet and scripts would read it.
type ViewReport struct {
	Workloads int `json:"workloads"`
	Streams   int `json:"streams"` // open, each reading every view it is sent
	Requests  int `json:"requests_per_kind"`
	ViewKiB   int `json:"view_kib"` // the whole view's encoding
	// Latency of one GET, from the request until its body is read: the whole view; a
	// page of 100 from a random position; a search that selects one workload; and
	// ?fresh=true after a write (computing a view that holds it: what a caller that
	// needs its own write waits for).
	Whole  Quantiles `json:"get_whole"`
	Page   Quantiles `json:"get_page_100"`
	Search Quantiles `json:"get_search"`
	Fresh  Quantiles `json:"get_fresh_after_write"`
	Failed int       `json:"failed"`
	// Views computed during the run, and their mean duration (atoll_view_duration_seconds):
	// what a reader no longer waits for.
	ViewsComputed int     `json:"views_computed"`
	ViewMeanMS    float64 `json:"view_compute_mean_ms"`
	StreamViews   int64   `json:"stream_views_decoded"`  // by the first stream
	StreamKiB     int     `json:"stream_kib_per_stream"` // received during the timed requests, gzipped
}

// RunView starts one site with an HTTP server, writes workloads, opens streams, and
// measures GET /v1/view: requests of each kind, paced 20 ms apart, in turn.
func RunView(ctx context.Context, o Options, workloads, streams, requests int) (ViewReport, error) {
	rep := ViewReport{Workloads: workloads, Streams: streams, Requests: requests}
	o.Sites, o.HTTP = 1, true
	f, err := Start(ctx, o)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	op, err := newOperatorFor(f)
	if err != nil {
		return rep, err
	}
	if err := loadWorkloads(ctx, op, "load", workloads); err != nil {
		return rep, err
	}
	hc := f.HTTP()
	base := f.URL(0) + "/v1/view"
	body, err := getOK(ctx, hc, base+"?fresh=true")
	if err != nil {
		return rep, err
	}
	rep.ViewKiB = len(body) >> 10

	// The streams: each reads every byte it is sent, gzipped as a browser asks; the first
	// also decodes them and counts the views (decoding in every one would spend this
	// process's CPU, where the dashboards' browsers run elsewhere).
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var views, started, streamBytes atomic.Int64
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(sctx, http.MethodGet, f.URL(0)+"/v1/stream", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := hc.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				return
			}
			cr := &countingReader{r: resp.Body, n: &streamBytes}
			if i > 0 {
				buf := make([]byte, 64<<10)
				first := true
				for {
					n, err := cr.Read(buf)
					if first && n > 0 {
						first = false
						started.Add(1)
					}
					if err != nil {
						return
					}
				}
			}
			zr, err := gzip.NewReader(cr)
			if err != nil {
				return
			}
			started.Add(1)
			r := bufio.NewReaderSize(zr, 64<<10)
			for {
				line, err := r.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					continue
				}
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("event: view")) {
					views.Add(1)
				}
			}
		}()
	}
	if err := pollUntil(ctx, 30*time.Second, func() bool { return started.Load() >= int64(streams) && (streams == 0 || views.Load() > 0) }); err != nil {
		return rep, fmt.Errorf("%d of %d streams started, %d views decoded: %w", started.Load(), streams, views.Load(), err)
	}
	bytes0 := streamBytes.Load()
	n0, sum0, err := viewMetric(ctx, hc, f.URL(0))
	if err != nil {
		return rep, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	timed := func(url string) time.Duration {
		t0 := time.Now()
		if _, err := getOK(ctx, hc, url); err != nil {
			rep.Failed++
		}
		return time.Since(t0)
	}
	var whole, page, search, fresh []time.Duration
	for i := range requests {
		whole = append(whole, timed(base))
		at := workloadKeyToken("load", fmt.Sprintf("w%05d", rng.IntN(workloads)))
		page = append(page, timed(base+"?limit=100&continue="+at))
		search = append(search, timed(base+fmt.Sprintf("?q=w%05d", rng.IntN(workloads))))
		if i%10 == 0 { // a write is a scheduling pass away from a fresh view: fewer of them
			if err := op.write(ctx, 0, workloadOps("fresh", fmt.Sprintf("f%d", i), 1)...); err != nil {
				return rep, err
			}
			fresh = append(fresh, timed(base+"?fresh=true&namespace=fresh&limit=1"))
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(20 * time.Millisecond): // pacing, so that p99 is not one pause's
		}
	}
	n1, sum1, err := viewMetric(ctx, hc, f.URL(0))
	if err != nil {
		return rep, err
	}
	rep.Whole, rep.Page, rep.Search, rep.Fresh = quantiles(whole), quantiles(page), quantiles(search), quantiles(fresh)
	rep.ViewsComputed = int(n1 - n0)
	if n1 > n0 {
		rep.ViewMeanMS = (sum1 - sum0) / (n1 - n0) * 1000
	}
	rep.StreamViews = views.Load()
	if streams > 0 {
		rep.StreamKiB = int((streamBytes.Load() - bytes0) / int64(streams) >> 10)
	}
	return rep, nil
}

// loadWorkloads writes n workloads of one replica, ns/w00000 on, 200 to a change.
func loadWorkloads(ctx context.Context, op *Operator, ns string, n int) error {
	const perChange = 200
	for i := 0; i < n; i += perChange {
		var ops []crdt.Op
		for j := i; j < min(n, i+perChange); j++ {
			ops = append(ops, workloadOps(ns, fmt.Sprintf("w%05d", j), 1)...)
		}
		if err := op.write(ctx, 0, ops...); err != nil {
			return err
		}
	}
	return nil
}

// workloadKeyToken is the continue token of GET /v1/view that resumes after ns/name.
func workloadKeyToken(ns, name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(ns + "/" + name))
}

func getOK(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return b, err
}

// viewMetric reads atoll_view_duration_seconds's count and sum from the site's metrics.
func viewMetric(ctx context.Context, hc *http.Client, url string) (n, sum float64, err error) {
	m, err := metricValues(ctx, hc, url, "atoll_view_duration_seconds_count", "atoll_view_duration_seconds_sum")
	return m["atoll_view_duration_seconds_count"], m["atoll_view_duration_seconds_sum"], err
}

// metricValues reads the samples of the named unlabelled series (a histogram's _count
// or _sum) from a site's metrics; a series it does not find is 0.
func metricValues(ctx context.Context, hc *http.Client, url string, names ...string) (map[string]float64, error) {
	b, err := getOK(ctx, hc, url+"/metrics")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, val, _ := strings.Cut(line, " ")
		if slices.Contains(names, name) {
			out[name], _ = strconv.ParseFloat(val, 64)
		}
	}
	return out, nil
}

// countingReader adds what it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// pollUntil polls ok every 50 ms until it holds, for at most d.
func pollUntil(ctx context.Context, d time.Duration, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
