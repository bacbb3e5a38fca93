package core

import (
	"time"

	"atoll/peering"
)

// Hints: a peer's Meta arrives in hint frames on its push stream (peering/hint.go) and,
// from sites of earlier releases and while they or observers are live, in memberlist
// metadata. Both go to anti-entropy through Advertised.
//
// Which hints a site owes (the shell sends them, paced, on its push streams):
//   - every live peer, on each new push stream (the peer came up, or the stream broke);
//   - every live peer, when what the site's Raft log stored changes its heads
//     (Ready.Hint). Nothing else does: a change pushed by its author reaches every live
//     peer by that push and the relays (a push that fails asks for a session), and what a
//     session stores is relayed like a push. Hinting those too repeats each change N-1
//     times at each of N sites, and under load, when pushes lag past the grace, starts a
//     session at every site that a hint reaches first, each stored change hinted again;
//     measured: 2,300-2,700 sessions for 100 writes at 20 sites;
//   - a peer whose hint shows it behind: every head it names is held here and its heads
//     differ from this site's (Ready.HintTo), so that a peer that missed a push learns of
//     it from the next hint it sends, whoever it sends it to.
//
// The shell also owes every live peer a hint every few seconds if its heads changed
// meanwhile (site Tuning.HintRefresh): a cost per site and per interval, not per change.
//
// A hint may arrive before the membership reports its sender live: the sender saw this
// site come back first. Advertised would drop it, and this site would learn what it missed
// only from the safety-net session. So the latest hint of each charter site that is not
// live is kept (one Meta per name, no more than the charter lists) and applied by PeerUp.

// Hint takes a hint frame a peer pushed. A frame that does not decode is a strike against
// the peer; ok is false once the peer is refused (the shell drops its stream).
func (c *Core) Hint(peer string, frame []byte, now time.Time) (ok bool, err error) {
	m, err := peering.DecodeHint(frame)
	if err != nil {
		return !c.budget.Strike(peer, now), err
	}
	switch {
	case c.liveness.live[peer] != nil:
		c.Advertised(peer, m)
		if c.behind(m) {
			c.ready.HintTo = append(c.ready.HintTo, peer)
		}
	case c.named(peer):
		c.early[peer] = m
	}
	return true, nil
}

// behind reports whether a peer that advertised m holds less than this site: every head
// it names is held here, and its heads are not this site's. A Meta that lists only some
// of its heads (More) tells nothing.
func (c *Core) behind(m peering.Meta) bool {
	if m.More {
		return false
	}
	for _, h := range m.Heads {
		if !c.rep.Has(h) {
			return false
		}
	}
	heads := c.rep.Heads()
	if len(heads) != len(m.Heads) {
		return true
	}
	for i, h := range heads {
		if h != m.Heads[i] {
			return true
		}
	}
	return false
}

// named reports whether the charter names a site peer (not this one).
func (c *Core) named(peer string) bool {
	if peer == c.cfg.Self {
		return false
	}
	_, ok := c.rep.Charter().SiteByName(peer)
	return ok
}

// applyEarly hands anti-entropy the hint a peer sent before it came up, if any.
func (c *Core) applyEarly(name string) {
	if m, ok := c.early[name]; ok {
		delete(c.early, name)
		c.Advertised(name, m)
	}
}
