package core

import (
	"slices"
	"time"

	"atoll/crdt"
	"atoll/peering"
)

// Peer is a live site as the membership reported it.
type Peer struct {
	Name  string
	Key   crdt.PubKey // its charter key when it came up
	Addr  string      // where it is reached now: a restarted site may come back elsewhere
	Since time.Time   // when the membership reported it alive
}

// Liveness is which sites are live to this one and since when, which were lost and
// when, and the startup grace of this site's view: the membership half of the core. The
// failover simulation runs it alone, without a replica.
type Liveness struct {
	live  map[string]*Peer
	known map[string]string    // last known address of every site seen, by name
	gone  map[string]time.Time // when each site that was live was last lost
	// leadSince is when this site last started leading: the startup grace of Alive runs
	// from it.
	leadSince time.Time
}

// NewLiveness returns a view in which no site is live yet.
func NewLiveness() *Liveness {
	return &Liveness{live: map[string]*Peer{}, known: map[string]string{}, gone: map[string]time.Time{}}
}

// Up records a site the membership reports alive at addr, with its charter key, and
// reports whether it is new; a known one may have moved, or its key rotated.
func (l *Liveness) Up(name string, key crdt.PubKey, addr string, now time.Time) bool {
	l.known[name] = addr
	if p := l.live[name]; p != nil {
		p.Addr, p.Key = addr, key
		return false
	}
	l.live[name] = &Peer{Name: name, Key: key, Addr: addr, Since: now}
	return true
}

// Down records a site the membership reports dead or gone, and reports whether it was
// live.
func (l *Liveness) Down(name string, now time.Time) bool {
	if l.live[name] == nil {
		return false
	}
	delete(l.live, name)
	l.gone[name] = now
	return true
}

// Lead starts the startup grace of Alive at now and forgets which sites were lost: a
// site that starts leading judges liveness afresh.
func (l *Liveness) Lead(now time.Time) {
	l.leadSince = now
	l.gone = map[string]time.Time{}
}

// Live returns the names of the live sites, sorted.
func (l *Liveness) Live() []string {
	out := make([]string, 0, len(l.live))
	for name := range l.live {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Peer returns a live site.
func (l *Liveness) Peer(name string) (Peer, bool) {
	p := l.live[name]
	if p == nil {
		return Peer{}, false
	}
	return *p, true
}

// Since returns the sites the membership reports live, and since when each has been
// live or lost.
func (l *Liveness) Since() (live map[string]bool, since map[string]time.Time) {
	live, since = map[string]bool{}, map[string]time.Time{}
	for name, t := range l.gone {
		since[name] = t
	}
	for name, p := range l.live {
		live[name], since[name] = true, p.Since
	}
	return live, since
}

// Alive is this site's view of which of sites are alive, with hysteresis. During the
// startup grace after Lead, sites not seen yet count as alive. A site this view counted
// dead when it came (it was lost, or first seen after the grace) counts as alive only
// once it has been live for settle (failback is make-before-break anyway; the delay
// keeps a flapping site from moving shares at all). next is when the view may change by
// itself (0: it will not).
func (l *Liveness) Alive(now time.Time, sites []string, settle, startup time.Duration) (alive map[string]bool, next time.Duration) {
	alive = map[string]bool{}
	soon := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	graceEnd := l.leadSince.Add(startup)
	for name, p := range l.live {
		_, lost := l.gone[name]
		if !lost && !p.Since.After(graceEnd) || now.Sub(p.Since) >= settle {
			alive[name] = true
		} else {
			soon(settle - now.Sub(p.Since))
		}
	}
	if age := now.Sub(l.leadSince); age < startup {
		for _, name := range sites {
			if _, lost := l.gone[name]; !lost && l.live[name] == nil {
				alive[name] = true
			}
		}
		soon(startup - age)
	}
	return alive, next
}

// Missing returns where to look for the sites that are not live, other than self: their
// last known addresses; unseen reports that some was never seen, or that no site is live.
func (l *Liveness) Missing(self string, sites []string) (addrs []string, unseen bool) {
	unseen = len(l.live) == 0
	for _, name := range sites {
		if name == self || l.live[name] != nil {
			continue
		}
		if a, ok := l.known[name]; ok {
			addrs = append(addrs, a)
		} else {
			unseen = true
		}
	}
	slices.Sort(addrs)
	return slices.Compact(addrs), unseen
}

// PeerUp records a site the membership reports alive at addr, with its charter key. It
// reports whether the site is new (the shell starts its push streams); a known one may
// have moved, or the charter may have rotated its key.
func (c *Core) PeerUp(name string, key crdt.PubKey, addr string, now time.Time) bool {
	if name == c.cfg.Self || !c.liveness.Up(name, key, addr, now) {
		return false
	}
	c.ae.Join(name)
	c.softWant[name] = true // a new peer may lack any record: one soft session
	c.applyEarly(name)
	c.ready.Liveness = true
	c.event(Event{Kind: "site", Subject: name, Text: name + " is live at " + addr, Log: "peer alive", Attrs: []any{"peer", name, "addr", addr}})
	return true
}

// PeerDown records a site the membership reports dead or gone, and reports whether it
// was live (the shell stops its push streams).
func (c *Core) PeerDown(name string, now time.Time) bool {
	if !c.liveness.Down(name, now) {
		return false
	}
	c.ae.Leave(name)
	delete(c.softWant, name)
	c.ready.Liveness = true
	c.event(Event{Kind: "site", Subject: name, Text: name + " is lost", Log: "peer gone", Attrs: []any{"peer", name}})
	return true
}

// Advertised records a live peer's advertised metadata: from memberlist, or a hint.
func (c *Core) Advertised(name string, m peering.Meta) {
	if c.liveness.live[name] == nil {
		return
	}
	c.ae.Advertised(name, m)
	c.ready.Wake = true
}

// Lead records that this replica speaks for the site from now: the startup grace of
// Alive starts, which sites were lost is forgotten (a replica that starts leading judges
// liveness afresh), and with replicas, what is still marked goes to the log again.
func (c *Core) Lead(now time.Time) {
	c.liveness.Lead(now)
	c.leading = true
	if c.cfg.Replicas {
		c.requeue()
	}
}

// Live returns the names of the live peers, sorted.
func (c *Core) Live() []string { return c.liveness.Live() }

// Peer returns a live peer.
func (c *Core) Peer(name string) (Peer, bool) { return c.liveness.Peer(name) }

// Liveness returns the peers the membership reports live, and since when each has been
// live or lost.
func (c *Core) Liveness() (live map[string]bool, since map[string]time.Time) {
	return c.liveness.Since()
}

// Alive is Liveness.Alive: this site's view of which of sites are alive.
func (c *Core) Alive(now time.Time, sites []string, settle, startup time.Duration) (map[string]bool, time.Duration) {
	return c.liveness.Alive(now, sites, settle, startup)
}

// Missing is Liveness.Missing, for this site.
func (c *Core) Missing(sites []string) (addrs []string, unseen bool) {
	return c.liveness.Missing(c.cfg.Self, sites)
}
