package core

import (
	"time"

	"atoll/peering"
)

// Hints: a peer's Meta arrives in hint frames on its push stream (peering/hint.go) and,
// from sites of earlier releases and while they or observers are live, in memberlist
// metadata. Both go to anti-entropy through Advertised.
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
	case c.named(peer):
		c.early[peer] = m
	}
	return true, nil
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
