package netlab

import (
	"fmt"
	"strconv"
	"time"
)

// Impairment is what the hub does to every IPv4 packet between two nodes, on top of
// cuts: a WAN's loss, delay and jitter.
type Impairment struct {
	// Loss is the fraction of packets the hub's bridge drops, each packet independently,
	// in each direction (0.05: 5%). nftables drops them in the kernel (numgen random).
	Loss float64
	// Delay is the one-way delay: every frame a node sends is held this long, plus or
	// minus Jitter, before it reaches the bridge. The round trip is twice Delay.
	Delay time.Duration
	// Jitter spreads each frame's delay uniformly over [Delay-Jitter, Delay+Jitter];
	// frames may then arrive out of order, as on a real path with several routes.
	Jitter time.Duration
}

// lossScale is the loss rule's resolution: it draws numbers below lossScale.
const lossScale = 10000

// Validate checks the impairment without changing it.
func (im Impairment) Validate() error {
	if im.Loss < 0 || im.Loss >= 1 {
		return fmt.Errorf("loss %v: want a fraction in [0, 1)", im.Loss)
	}
	if im.Delay < 0 || im.Jitter < 0 || im.Jitter > im.Delay {
		return fmt.Errorf("delay %v, jitter %v: want 0 <= jitter <= delay", im.Delay, im.Jitter)
	}
	if im.Delay > maxDelay {
		return fmt.Errorf("delay %v: want at most %v", im.Delay, maxDelay)
	}
	return nil
}

// Impair applies im to every link of the lab from now on, replacing any impairment
// before. Loss applies at once. The first Impair with a delay splices a userspace relay
// into each node's link to the bridge (relay.go), which stays until Close; later calls
// change the delay it applies. Call Impair before starting the processes under test:
// frames in flight while the relay is spliced in are lost.
func (l *Lab) Impair(im Impairment) error {
	if err := im.Validate(); err != nil {
		return fmt.Errorf("netlab: impair: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("netlab: impair: %w", errClosed)
	}
	if err := nft(l.hub(), lossRules(im.Loss)); err != nil {
		return fmt.Errorf("netlab: impair: loss: %w", err)
	}
	if im.Delay > 0 && l.relay == nil {
		r, err := l.splice()
		if err != nil {
			return fmt.Errorf("netlab: impair: delay: %w", err)
		}
		l.relay = r
	}
	if l.relay != nil {
		l.relay.setDelay(im.Delay, im.Jitter)
	}
	return nil
}

// RelayLost is how many frames the delay relay lost on its own, beyond Impairment.Loss:
// over its bound of held bytes, or to a full socket buffer. A measurement behind the lab
// should see 0; 0 too when no delay was ever set.
func (l *Lab) RelayLost() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.relay == nil {
		return 0
	}
	return l.relay.lost()
}

// lossRules rewrites the hub's forward chain: the cut rule, then, with loss, a rule that
// drops each IPv4 packet with that probability. ARP is never dropped, as with cuts.
func lossRules(loss float64) string {
	s := "flush chain bridge atoll_lab forward\n" +
		"add rule bridge atoll_lab forward ip saddr . ip daddr @cuts drop\n"
	if n := int(loss*lossScale + 0.5); n > 0 {
		s += "add rule bridge atoll_lab forward meta protocol ip numgen random mod " +
			strconv.Itoa(lossScale) + " < " + strconv.Itoa(n) + " drop\n"
	}
	return s
}
