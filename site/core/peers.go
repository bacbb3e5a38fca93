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

// peers is the core's bookkeeping of other sites.
type peers struct {
	live    map[string]*Peer
	known   map[string]string    // last known address of every site seen, by name
	gone    map[string]time.Time // when each site that was live was last lost
	inbound map[string]int       // sessions peers started that are running, by peer
	due     map[string]bool      // peers Due named whose session Initiate has not started
	// leadSince is when this site last started leading: the startup grace of Alive
	// runs from it.
	leadSince time.Time
}

func newPeers() peers {
	return peers{live: map[string]*Peer{}, known: map[string]string{}, gone: map[string]time.Time{}, inbound: map[string]int{}, due: map[string]bool{}}
}

// PeerUp records a site the membership reports alive at addr, with its charter key. It
// reports whether the site is new (the shell starts its push streams); a known one may
// have moved, or the charter may have rotated its key.
func (c *Core) PeerUp(name string, key crdt.PubKey, addr string, now time.Time) bool {
	if name == c.cfg.Self {
		return false
	}
	c.known[name] = addr
	if p := c.live[name]; p != nil {
		p.Addr, p.Key = addr, key
		return false
	}
	c.live[name] = &Peer{Name: name, Key: key, Addr: addr, Since: now}
	c.ae.Join(name)
	c.ready.Liveness = true
	c.event(Event{Kind: "site", Subject: name, Text: name + " is live at " + addr, Log: "peer alive", Attrs: []any{"peer", name, "addr", addr}})
	return true
}

// PeerDown records a site the membership reports dead or gone, and reports whether it
// was live (the shell stops its push streams).
func (c *Core) PeerDown(name string, now time.Time) bool {
	if c.live[name] == nil {
		return false
	}
	delete(c.live, name)
	c.gone[name] = now
	c.ae.Leave(name)
	c.ready.Liveness = true
	c.event(Event{Kind: "site", Subject: name, Text: name + " is lost", Log: "peer gone", Attrs: []any{"peer", name}})
	return true
}

// Advertised records a live peer's advertised metadata.
func (c *Core) Advertised(name string, m peering.Meta) {
	if c.live[name] == nil {
		return
	}
	c.ae.Advertised(name, m)
	c.ready.Wake = true
}

// Lead records that this replica speaks for the site from now: the startup grace of
// Alive starts, which sites were lost is forgotten (a replica that starts leading judges
// liveness afresh), and with replicas, what is still marked goes to the log again.
func (c *Core) Lead(now time.Time) {
	c.leadSince = now
	c.gone = map[string]time.Time{}
	c.leading = true
	if c.cfg.Replicas {
		c.requeue()
	}
}

// Live returns the names of the live peers, sorted.
func (c *Core) Live() []string {
	out := make([]string, 0, len(c.live))
	for name := range c.live {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Peer returns a live peer.
func (c *Core) Peer(name string) (Peer, bool) {
	p := c.live[name]
	if p == nil {
		return Peer{}, false
	}
	return *p, true
}

// Liveness returns the sites the membership reports live, and since when each has been
// live or lost.
func (c *Core) Liveness() (live map[string]bool, since map[string]time.Time) {
	live, since = map[string]bool{}, map[string]time.Time{}
	for name, t := range c.gone {
		since[name] = t
	}
	for name, p := range c.live {
		live[name], since[name] = true, p.Since
	}
	return live, since
}

// Alive is this site's view of which of the charter's sites are alive, with hysteresis.
// A site that was lost and comes back counts as alive only once it has been so for
// settle (failback is make-before-break anyway; the delay keeps a flapping site from
// moving shares at all). During the startup grace after Lead, sites not seen yet count
// as alive. next is when the view may change by itself (0: it will not).
func (c *Core) Alive(now time.Time, sites []string, settle, startup time.Duration) (alive map[string]bool, next time.Duration) {
	alive = map[string]bool{}
	soon := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	for name, p := range c.live {
		if _, lost := c.gone[name]; !lost || now.Sub(p.Since) >= settle {
			alive[name] = true
		} else {
			soon(settle - now.Sub(p.Since))
		}
	}
	if age := now.Sub(c.leadSince); age < startup {
		for _, name := range sites {
			if _, lost := c.gone[name]; !lost && c.live[name] == nil {
				alive[name] = true
			}
		}
		soon(startup - age)
	}
	return alive, next
}

// Missing returns where to look for the sites of sites (less self) that are not live:
// their last known addresses; unseen reports that some was never seen, or that no peer
// is live (the shell adds its seeds then).
func (c *Core) Missing(sites []string) (addrs []string, unseen bool) {
	unseen = len(c.live) == 0
	for _, name := range sites {
		if name == c.cfg.Self || c.live[name] != nil {
			continue
		}
		if a, ok := c.known[name]; ok {
			addrs = append(addrs, a)
		} else {
			unseen = true
		}
	}
	slices.Sort(addrs)
	return slices.Compact(addrs), unseen
}
