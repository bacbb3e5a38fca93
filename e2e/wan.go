package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"atoll/e2e/netlab"
)

// WANReport is the outcome of RunWAN: false positives of failure detection while every
// site is alive behind a lossy WAN, then detection of real deaths on the same WAN.
type WANReport struct {
	Sites   int     `json:"sites"`
	Profile string  `json:"profile"`
	Loss    float64 `json:"loss"`
	DelayMS float64 `json:"delay_ms"` // one way; the round trip is twice this
	Jitter  float64 `json:"jitter_ms"`
	// WatchMinutes is how long every site was alive and watched; SiteHours is Sites x
	// WatchMinutes / 60, the exposure: each site is probed about once per probe interval
	// whatever N, so N sites for T minutes put as many probes on live sites as one site
	// gets in N x T minutes.
	WatchMinutes float64 `json:"watch_minutes"`
	SiteHours    float64 `json:"site_hours"`
	// Suspicions counts memberlist's "Suspect X has failed" at the sites that probed X:
	// a live site suspected, later refuted or not.
	Suspicions int `json:"false_suspicions"`
	// Deaths counts memberlist's "Marking X as failed": a suspicion of a live site that
	// was not refuted in time.
	Deaths int `json:"false_deaths"`
	// Takeovers counts "peer gone" at live sites for live peers: each makes that site's
	// next scheduling passes treat the peer as dead (not Alive) and take over its share.
	Takeovers int `json:"false_takeovers"`
	// Detect is the kill -9 trials that follow on the same lab: until no live site lists
	// the victim (every survivor's passes treat it as dead), and until the first does.
	// RelayLost is frames the lab's delay relay lost beyond Loss (netlab.Lab.RelayLost):
	// 0 if the links were what they claim.
	RelayLost int64 `json:"relay_lost"`

	Trials int       `json:"trials"`
	All    Quantiles `json:"dead_everywhere"`
	First  Quantiles `json:"dead_somewhere"`
}

// RunWAN impairs o.Lab's links with im, starts the federation, watches it for watch with
// every site alive, counting false suspicions, deaths and takeovers in the sites' logs,
// then runs trials kill -9 detection trials as RunDetect does. o.Lab is required: the
// sites' packets must cross the impaired links.
func RunWAN(ctx context.Context, o Options, im netlab.Impairment, watch time.Duration, trials int) (WANReport, error) {
	rep := WANReport{Sites: o.Sites, Profile: o.Profile, Loss: im.Loss, DelayMS: ms(im.Delay), Jitter: ms(im.Jitter), Trials: trials}
	if o.Lab == nil {
		return rep, fmt.Errorf("e2e: wan: needs a network lab (the sites must run behind impaired links)")
	}
	if err := o.Lab.Impair(im); err != nil {
		return rep, err
	}
	o.LogLevel = "debug" // memberlist's own messages (suspicions) are logged at debug
	f, err := Start(ctx, o)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	if err := f.WaitMembers(ctx); err != nil {
		return rep, err
	}
	from := make([]int64, o.Sites)
	for i := range o.Sites {
		if from[i], err = f.logSize(i); err != nil {
			return rep, err
		}
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-time.After(watch):
	}
	rep.WatchMinutes = time.Since(t0).Minutes()
	rep.SiteHours = rep.WatchMinutes * float64(o.Sites) / 60
	for i := range o.Sites {
		b, err := f.logSince(i, from[i])
		if err != nil {
			return rep, err
		}
		c := countFalse(b)
		rep.Suspicions += c.suspicions
		rep.Deaths += c.deaths
		rep.Takeovers += c.takeovers
	}
	rep.All, rep.First, err = detectTrials(ctx, f, o.Sites, trials)
	rep.RelayLost = o.Lab.RelayLost()
	return rep, err
}

// falseCounts are what countFalse finds in a site's log.
type falseCounts struct{ suspicions, deaths, takeovers int }

// countFalse counts the lines of a site's text log (slog's text handler, memberlist's
// messages inside msg) that record a suspicion, a death or a lost peer.
func countFalse(log []byte) falseCounts {
	var c falseCounts
	for line := range bytes.Lines(log) {
		s := string(line)
		switch {
		case strings.Contains(s, "memberlist: Suspect ") && strings.Contains(s, " has failed"):
			c.suspicions++
		case strings.Contains(s, "memberlist: Marking ") && strings.Contains(s, " as failed"):
			c.deaths++
		case strings.Contains(s, `msg="peer gone"`):
			c.takeovers++
		}
	}
	return c
}

// logPath is site i's log file.
func (f *Fed) logPath(i int) string { return strings.TrimSuffix(f.configs[i], ".yaml") + ".log" }

func (f *Fed) logSize(i int) (int64, error) {
	st, err := os.Stat(f.logPath(i))
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// logSince returns site i's log from byte offset on.
func (f *Fed) logSince(i int, offset int64) ([]byte, error) {
	fl, err := os.Open(f.logPath(i))
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	if _, err := fl.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(fl)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
