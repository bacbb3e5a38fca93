package transport

import (
	"fmt"
	"slices"
)

// Block cuts this process off from peers, by charter site name, for fault
// injection in tests: their packets are dropped both ways, streams to and
// from them are refused, and open connections with them are closed at once.
// It acts on this transport only; the peer notices through its failures.
func (t *Transport) Block(peers ...string) {
	var victims []*Conn
	t.mu.Lock()
	for _, p := range peers {
		t.blocked[p] = true
		for c := range t.conns[p] {
			victims = append(victims, c)
		}
	}
	t.mu.Unlock()
	for _, c := range victims {
		c.abort()
	}
	t.log.Info("peers blocked", "peers", peers, "closed_conns", len(victims))
}

// Unblock lifts Block for peers; with no argument, for every peer.
func (t *Transport) Unblock(peers ...string) {
	t.mu.Lock()
	if len(peers) == 0 {
		clear(t.blocked)
	}
	for _, p := range peers {
		delete(t.blocked, p)
	}
	t.mu.Unlock()
	t.log.Info("peers unblocked", "peers", peers)
}

// Blocked returns the blocked peers, sorted.
func (t *Transport) Blocked() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.blocked))
	for p := range t.blocked {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (t *Transport) isBlocked(peer string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.blocked[peer]
}

// track registers an established connection, so that Block and Shutdown
// can close it. It fails if the peer is blocked, the transport closed, or an
// inbound stream would exceed a limit (admitLocked),
// checked under the same lock that Block and Shutdown take, so no
// connection slips past either.
func (t *Transport) track(c *Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.blocked[c.Peer] {
		return fmt.Errorf("%w: %s", ErrBlocked, c.Peer)
	}
	if c.inbound {
		if err := t.admitLocked(c); err != nil {
			return err
		}
		t.inbound++
	}
	set := t.conns[c.Peer]
	if set == nil {
		set = make(map[*Conn]struct{})
		t.conns[c.Peer] = set
	}
	set[c] = struct{}{}
	return nil
}

func (t *Transport) untrack(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.conns[c.Peer]
	if _, ok := set[c]; ok && c.inbound {
		t.inbound--
	}
	delete(set, c)
	if len(set) == 0 {
		delete(t.conns, c.Peer)
	}
}

// maxAddrNames bounds the address-to-name table; when full it is reset.
const maxAddrNames = 4096

// learnAddr records that addr ("ip:port") is the site name, so that packet
// writes by address alone can honour Block. Callers pass only names proven by
// a signature or handshake, or given by memberlist.
func (t *Transport) learnAddr(addr, name string) {
	if addr == "" || name == "" {
		return
	}
	addr = normalAddr(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.addrs[addr] == name {
		return
	}
	if len(t.addrs) >= maxAddrNames {
		clear(t.addrs)
	}
	t.addrs[addr] = name
}

// nameOf returns the site name last seen at addr, or "".
func (t *Transport) nameOf(addr string) string {
	addr = normalAddr(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addrs[addr]
}
