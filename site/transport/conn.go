package transport

import (
	"crypto/ed25519"
	"net"
	"sync"
)

// Conn is an authenticated stream with a charter site: a TLS 1.3
// connection whose peer proved it holds Key, the charter key of Peer.
// Close it when done; Block and Shutdown close it too.
type Conn struct {
	net.Conn                   // the TLS connection
	Peer     string            // charter site name of the other side
	Key      ed25519.PublicKey // the other side's charter key

	t         *Transport
	raw       *countingConn // the TCP connection under TLS
	channel   byte          // the stream's channel (0 while dialing)
	inbound   bool          // accepted, not dialed
	closeOnce sync.Once
	closeErr  error
}

// Close closes the connection (sending TLS close_notify) and stops
// tracking it. It is safe to call more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.t.untrack(c)
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// abort closes the TCP connection at once, without close_notify, which
// could wait for a peer that does not read.
func (c *Conn) abort() {
	c.closeOnce.Do(func() {
		c.t.untrack(c)
		c.closeErr = c.raw.Close()
	})
}

// countingConn counts the bytes of a TCP connection into the totals at
// once, and into the peer's counters from when attach names the peer
// (bytes seen before then are credited at attach).
type countingConn struct {
	net.Conn
	stats *statsSet

	mu      sync.Mutex
	peer    *counters
	in, out uint64 // before attach
}

func newCountingConn(c net.Conn, s *statsSet) *countingConn {
	return &countingConn{Conn: c, stats: s}
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.stats.total.streamIn.Add(uint64(n))
		c.mu.Lock()
		if c.peer != nil {
			c.peer.streamIn.Add(uint64(n))
		} else {
			c.in += uint64(n)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.stats.total.streamOut.Add(uint64(n))
		c.mu.Lock()
		if c.peer != nil {
			c.peer.streamOut.Add(uint64(n))
		} else {
			c.out += uint64(n)
		}
		c.mu.Unlock()
	}
	return n, err
}

// attach credits the connection's bytes, past and future, to peer (which
// may be nil when the per-peer table is full).
func (c *countingConn) attach(peer *counters) {
	if peer == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peer = peer
	peer.streamIn.Add(c.in)
	peer.streamOut.Add(c.out)
	c.in, c.out = 0, 0
}
