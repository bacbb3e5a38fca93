package transport

import (
	"errors"
	"fmt"
)

// errLimit: an accepted stream would exceed MaxStreams, MaxStreamsPerPeer or its
// channel's per-peer limit (LimitPerPeer).
var errLimit = errors.New("stream limit reached")

// LimitPerPeer caps the streams each peer may have open on channel at once, inbound,
// beyond MaxStreamsPerPeer: the next is refused after the handshake, before its channel is
// acknowledged and before its handler runs. Call it before traffic arrives, like Handle.
// n <= 0 removes the cap. It panics for ChannelMemberlist, a programming error.
func (t *Transport) LimitPerPeer(channel byte, n int) {
	if channel == ChannelMemberlist {
		panic("transport: LimitPerPeer: channel 'M' is memberlist's")
	}
	t.handlersMu.Lock()
	defer t.handlersMu.Unlock()
	if n <= 0 {
		delete(t.perPeer, channel)
		return
	}
	t.perPeer[channel] = n
}

func (t *Transport) channelLimit(channel byte) int {
	t.handlersMu.RLock()
	defer t.handlersMu.RUnlock()
	return t.perPeer[channel]
}

// admitLocked checks an inbound stream c against the limits; t.mu must be held.
func (t *Transport) admitLocked(c *Conn) error {
	if t.inbound >= t.cfg.MaxStreams {
		return fmt.Errorf("%w: %d inbound streams open (MaxStreams)", errLimit, t.inbound)
	}
	peer, onChannel := 0, 0
	for o := range t.conns[c.Peer] {
		if o.inbound {
			peer++
			if o.channel == c.channel {
				onChannel++
			}
		}
	}
	if peer >= t.cfg.MaxStreamsPerPeer {
		return fmt.Errorf("%w: %d inbound streams open from %s (MaxStreamsPerPeer)", errLimit, peer, c.Peer)
	}
	if n := t.channelLimit(c.channel); n > 0 && onChannel >= n {
		return fmt.Errorf("%w: %d streams open from %s on channel %q", errLimit, onChannel, c.Peer, c.channel)
	}
	return nil
}
