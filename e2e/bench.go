package e2e

import (
	"atoll/site"
	"context"
	"fmt"
	"slices"
	"time"
)

// Quantiles of a sample, in milliseconds.
type Quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func quantiles(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(q float64) float64 { return ms(s[min(len(s)-1, int(q*float64(len(s))))]) }
	return Quantiles{N: len(s), P50: at(0.50), P99: at(0.99), Max: ms(s[len(s)-1])}
}

// LatencyReport is the outcome of RunLatency.
type LatencyReport struct {
	Sites      int       `json:"sites"`
	Writes     int       `json:"writes"`
	Everywhere Quantiles `json:"visible_everywhere"` // per write: until the last site held it
	PerSite    Quantiles `json:"visible_per_site"`   // per write and site
	BytesOut   float64   `json:"bytes_per_change_per_site"`
	// The same split: memberlist packets (probes, metadata gossip) and TLS streams (pushes,
	// sessions, memberlist push-pull), and the sessions started during the run.
	PacketBytes float64 `json:"packet_bytes_per_change_per_site"`
	StreamBytes float64 `json:"stream_bytes_per_change_per_site"`
	Sessions    uint64  `json:"sessions"`
	Conditions
	// Error, if set, is why the run stopped after Writes writes; the conditions are
	// those of the run so far.
	Error string `json:"error,omitempty"`
}

// Partial reports whether the report holds what a failed run saw.
func (r LatencyReport) Partial() bool { return r.Error != "" }

// RunLatency writes one change at a time, each at the next site in turn, and measures
// how long each takes to be held by every site.
func RunLatency(ctx context.Context, o Options, writes int, gap time.Duration) (LatencyReport, error) {
	rep := LatencyReport{Sites: o.Sites}
	f, err := startMeasured(ctx, o, SettleTimeout)
	if err != nil {
		rep.Conditions, rep.Error = f.cond, err.Error()
		return rep, err
	}
	defer f.Stop()
	before := f.at
	var all, per []time.Duration
	// failed fills in what the run saw before it stopped after k writes.
	failed := func(k int, err error) (LatencyReport, error) {
		rep.Writes, rep.Error = k, err.Error()
		rep.Everywhere, rep.PerSite = quantiles(all), quantiles(per)
		if after, serr := f.States(ctx); serr == nil {
			rep.Conditions = f.finish(after)
		}
		return rep, err
	}
	for k := range writes {
		start := time.Now()
		id, err := f.Write(ctx, k%o.Sites, fmt.Sprintf("k%d", k), Seq(k))
		if err != nil {
			return failed(k, err)
		}
		lat, err := f.Visible(ctx, id, start)
		if err != nil {
			return failed(k, err)
		}
		var worst time.Duration
		for _, d := range lat {
			per = append(per, d)
			worst = max(worst, d)
		}
		all = append(all, worst)
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(gap):
		}
	}
	after, err := f.States(ctx)
	if err != nil {
		return rep, err
	}
	rep.Conditions = f.finish(after)
	rep.Writes, rep.Everywhere, rep.PerSite = writes, quantiles(all), quantiles(per)
	// Includes background traffic over the run; gap keeps it small next to the changes.
	per1 := float64(writes) * float64(o.Sites)
	for i, st := range after {
		b := before[i]
		rep.PacketBytes += float64(st.Transport.PacketBytesOut-b.Transport.PacketBytesOut) / per1
		rep.StreamBytes += float64(st.Transport.StreamBytesOut-b.Transport.StreamBytesOut) / per1
		rep.Sessions += st.Counters["sessionsOut"] - b.Counters["sessionsOut"]
	}
	rep.BytesOut = rep.PacketBytes + rep.StreamBytes
	return rep, nil
}

// IdleReport is the outcome of RunIdle.
type IdleReport struct {
	Sites          int     `json:"sites"`
	Profile        string  `json:"profile"`
	Seconds        float64 `json:"seconds"`
	BytesPerSiteS  float64 `json:"bytes_per_site_per_s"`
	MaxSiteBytesPS float64 `json:"max_site_bytes_per_s"`
	Conditions
	Error string `json:"error,omitempty"` // why the run stopped; the conditions are those so far
}

// Partial reports whether the report holds what a failed run saw.
func (r IdleReport) Partial() bool { return r.Error != "" }

// RunIdle lets a converged federation sit idle for d and measures what each site sends.
func RunIdle(ctx context.Context, o Options, d time.Duration) (IdleReport, error) {
	rep := IdleReport{Sites: o.Sites, Profile: o.Profile}
	f, err := startMeasured(ctx, o, SettleTimeout)
	if err != nil {
		rep.Conditions, rep.Error = f.cond, err.Error()
		return rep, err
	}
	defer f.Stop()
	// Let the joins' own traffic (push-pull, first sessions) pass.
	time.Sleep(min(d/4, 10*time.Second))
	b0, err := f.States(ctx)
	if err != nil {
		return rep, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-time.After(d):
	}
	b1, err := f.States(ctx)
	if err != nil {
		return rep, err
	}
	secs := time.Since(t0).Seconds()
	f.at = b0 // flaps while measured: not those of the joins' traffic before
	rep.Conditions = f.finish(b1)
	var total float64
	for i, st := range b1 {
		out := float64(st.Transport.PacketBytesOut + st.Transport.StreamBytesOut - b0[i].Transport.PacketBytesOut - b0[i].Transport.StreamBytesOut)
		total += out
		rep.MaxSiteBytesPS = max(rep.MaxSiteBytesPS, out/secs)
	}
	rep.Seconds, rep.BytesPerSiteS = secs, total/secs/float64(len(b1))
	return rep, nil
}

// DetectReport is the outcome of RunDetect.
type DetectReport struct {
	Sites   int       `json:"sites"`
	Profile string    `json:"profile"`
	Trials  int       `json:"trials"`
	All     Quantiles `json:"dead_everywhere"` // from kill -9 until no live site lists it
	First   Quantiles `json:"dead_somewhere"`  // until the first site drops it
}

// RunDetect kills one site at a time with SIGKILL and measures how long the others take
// to stop listing it as live; the site is restarted between trials.
func RunDetect(ctx context.Context, o Options, trials int) (DetectReport, error) {
	rep := DetectReport{Sites: o.Sites, Profile: o.Profile, Trials: trials}
	f, err := Start(ctx, o)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	rep.All, rep.First, err = detectTrials(ctx, f, o.Sites, trials)
	return rep, err
}

// detectTrials kills sites 1, 2, ... in turn with SIGKILL and measures, for each, how long
// until no live site lists it live, and until the first stops; each is restarted before
// the next trial.
func detectTrials(ctx context.Context, f *Fed, sites, trials int) (all, first Quantiles, err error) {
	var alls, firsts []time.Duration
	for k := range trials {
		if err := f.WaitMembers(ctx); err != nil {
			return all, first, err
		}
		victim := 1 + k%(sites-1)
		start := time.Now()
		if err := f.Kill(victim); err != nil {
			return all, first, err
		}
		var firstSeen time.Duration
		err := f.waitFor(ctx, "failure detection", func(sts map[int]site.State) bool {
			gone := 0
			for _, st := range sts {
				if !slices.Contains(st.Live, f.Names[victim]) {
					gone++
				}
			}
			if gone > 0 && firstSeen == 0 {
				firstSeen = time.Since(start)
			}
			return gone == len(sts)
		})
		if err != nil {
			return all, first, err
		}
		alls, firsts = append(alls, time.Since(start)), append(firsts, firstSeen)
		if err := f.StartSite(ctx, victim); err != nil {
			return all, first, err
		}
	}
	return quantiles(alls), quantiles(firsts), nil
}

// startSettled starts a federation and waits until every site sees the others and they
// agree; on error nothing is left running.
func startSettled(ctx context.Context, o Options) (*Fed, error) {
	s, err := startMeasured(ctx, o, 0)
	if err != nil {
		return nil, err
	}
	return s.Fed, nil
}
