package peering

import "time"

// BudgetConfig bounds what one peer may make this site do. Zero fields take
// DefaultBudgetConfig's values.
type BudgetConfig struct {
	BytesPerSecond float64       // sustained bytes a peer may send
	BurstBytes     float64       // bytes a peer may send at once after being quiet
	Strikes        int           // invalid changes tolerated within Window
	Window         time.Duration // strikes older than this are forgotten
	Penalty        time.Duration // how long an over-budget or striking peer is refused
}

// DefaultBudgetConfig allows a catch-up of hundreds of thousands of changes at once (two
// sync messages of the largest size) and a steady few megabytes per second, and cuts off a
// peer after 16 invalid changes in a minute.
func DefaultBudgetConfig() BudgetConfig {
	return BudgetConfig{BytesPerSecond: 4 << 20, BurstBytes: 128 << 20, Strikes: 16, Window: time.Minute, Penalty: time.Minute}
}

func (c BudgetConfig) withDefaults() BudgetConfig {
	d := DefaultBudgetConfig()
	if c.BytesPerSecond == 0 {
		c.BytesPerSecond = d.BytesPerSecond
	}
	if c.BurstBytes == 0 {
		c.BurstBytes = d.BurstBytes
	}
	if c.Strikes == 0 {
		c.Strikes = d.Strikes
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.Penalty == 0 {
		c.Penalty = d.Penalty
	}
	return c
}

type account struct {
	tokens  float64
	last    time.Time
	strikes []time.Time
	until   time.Time // refused until then
}

// Budget is a token bucket of bytes and a strike count per peer.
type Budget struct {
	cfg      BudgetConfig
	accounts map[string]*account
}

// NewBudget returns an empty budget.
func NewBudget(cfg BudgetConfig) *Budget {
	return &Budget{cfg: cfg.withDefaults(), accounts: map[string]*account{}}
}

func (b *Budget) account(peer string, now time.Time) *account {
	a := b.accounts[peer]
	if a == nil {
		a = &account{tokens: b.cfg.BurstBytes, last: now}
		b.accounts[peer] = a
	}
	if dt := now.Sub(a.last).Seconds(); dt > 0 {
		a.tokens = min(b.cfg.BurstBytes, a.tokens+dt*b.cfg.BytesPerSecond)
		a.last = now
	}
	return a
}

// Allow charges n bytes received from peer. It returns false, and refuses the peer for
// Penalty, when the peer is over its budget or already refused.
func (b *Budget) Allow(peer string, n int, now time.Time) bool {
	a := b.account(peer, now)
	if now.Before(a.until) {
		return false
	}
	a.tokens -= float64(n)
	if a.tokens < 0 {
		a.until = now.Add(b.cfg.Penalty)
		a.tokens = 0
		return false
	}
	return true
}

// Strike records an invalid change from peer and reports whether the peer is now refused.
func (b *Budget) Strike(peer string, now time.Time) bool {
	a := b.account(peer, now)
	keep := a.strikes[:0]
	for _, t := range a.strikes {
		if now.Sub(t) < b.cfg.Window {
			keep = append(keep, t)
		}
	}
	a.strikes = append(keep, now)
	if len(a.strikes) > b.cfg.Strikes {
		a.until = now.Add(b.cfg.Penalty)
		a.strikes = nil
	}
	return now.Before(a.until)
}

// Refused reports whether peer's traffic is being dropped.
func (b *Budget) Refused(peer string, now time.Time) bool {
	a := b.accounts[peer]
	return a != nil && now.Before(a.until)
}
