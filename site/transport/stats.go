package transport

import (
	"sync"
	"sync/atomic"
)

// Stats counts traffic at the socket level, for benchmarks.
type Stats struct {
	// PacketBytesIn and PacketBytesOut are UDP datagram bytes, the packet
	// overhead included. In totals, every datagram read counts, dropped or
	// not; per peer, only datagrams whose signature verified.
	PacketBytesIn, PacketBytesOut uint64
	// StreamBytesIn and StreamBytesOut are TCP bytes, TLS records and
	// handshakes included. Bytes of a connection count for its peer from the
	// start once the handshake names the peer; those of connections that
	// never name one count in totals only.
	StreamBytesIn, StreamBytesOut uint64
	// Packets counts packets sent plus packets delivered; Streams counts
	// streams established, dialed or accepted.
	Packets, Streams uint64
	// Refused counts packets dropped on receipt, packet writes refused, and
	// streams refused or failed before they were established, either side.
	Refused uint64
	// Limited counts the inbound streams, among Refused, refused because a
	// limit was reached (MaxStreams, MaxStreamsPerPeer, LimitPerPeer).
	Limited uint64
}

// maxPeerStats bounds the per-peer table: names come from the charter or
// from memberlist addresses, and a hostile member could invent the latter.
const maxPeerStats = 1024

// counters is the live, atomic form of Stats.
type counters struct {
	packetIn, packetOut, streamIn, streamOut atomic.Uint64
	packets, streams, refused, limited       atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		PacketBytesIn:  c.packetIn.Load(),
		PacketBytesOut: c.packetOut.Load(),
		StreamBytesIn:  c.streamIn.Load(),
		StreamBytesOut: c.streamOut.Load(),
		Packets:        c.packets.Load(),
		Streams:        c.streams.Load(),
		Refused:        c.refused.Load(),
		Limited:        c.limited.Load(),
	}
}

// statsSet holds the totals and the per-peer counters.
type statsSet struct {
	total counters
	mu    sync.Mutex
	peers map[string]*counters
}

// peer returns the counters of name, or nil if name is "" or the table is
// full.
func (s *statsSet) peer(name string) *counters {
	if name == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.peers[name]
	if !ok {
		if len(s.peers) >= maxPeerStats {
			return nil
		}
		if s.peers == nil {
			s.peers = make(map[string]*counters)
		}
		c = new(counters)
		s.peers[name] = c
	}
	return c
}

// add adds n to the counter that field picks, in the totals and, if peer is
// not "", in peer's counters.
func (s *statsSet) add(peer string, field func(*counters) *atomic.Uint64, n uint64) {
	field(&s.total).Add(n)
	if p := s.peer(peer); p != nil {
		field(p).Add(n)
	}
}

func fPacketOut(c *counters) *atomic.Uint64 { return &c.packetOut }
func fPackets(c *counters) *atomic.Uint64   { return &c.packets }
func fStreams(c *counters) *atomic.Uint64   { return &c.streams }
func fRefused(c *counters) *atomic.Uint64   { return &c.refused }
func fLimited(c *counters) *atomic.Uint64   { return &c.limited }

// Stats returns the totals and a copy of the per-peer counters, keyed by
// charter site name.
func (t *Transport) Stats() (total Stats, perPeer map[string]Stats) {
	s := &t.stats
	s.mu.Lock()
	perPeer = make(map[string]Stats, len(s.peers))
	for name, c := range s.peers {
		perPeer[name] = c.snapshot()
	}
	s.mu.Unlock()
	return s.total.snapshot(), perPeer
}
