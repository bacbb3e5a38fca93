package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// PacketCh implements memberlist.Transport: verified packets from charter
// sites. The channel is unbuffered, so Timestamp stays close to receipt.
func (t *Transport) PacketCh() <-chan *memberlist.Packet {
	return t.packetCh
}

// WriteTo implements memberlist.Transport. The peer's name, needed to honour
// Block, is the one last seen at addr.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport: it signs b and
// sends it as one datagram to addr.Addr. It refuses a blocked peer, named by
// addr.Name or, without one, by the name last seen at addr.Addr.
func (t *Transport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	name := addr.Name
	if name == "" {
		name = t.nameOf(addr.Addr)
	} else {
		t.learnAddr(addr.Addr, name)
	}
	if t.ctx.Err() != nil {
		return time.Time{}, fmt.Errorf("write packet to %s: %w", addr.String(), ErrClosed)
	}
	to, err := resolveUDP(addr.Addr)
	if err != nil {
		t.stats.add(name, fRefused, 1)
		return time.Time{}, fmt.Errorf("write packet to %s: %w", addr.String(), err)
	}
	if name != "" && t.isBlocked(name) {
		t.stats.add(name, fRefused, 1)
		// A write error on the UDP socket is what memberlist takes for a
		// failure of the remote side (it then probes indirectly), as a real
		// partition would look; any other error would make it skip the probe.
		return time.Time{}, &net.OpError{Op: "write", Net: "udp", Source: t.udp.LocalAddr(),
			Addr: net.UDPAddrFromAddrPort(to), Err: fmt.Errorf("%w: %s", ErrBlocked, name)}
	}
	if n := len(b) + PacketOverhead; n > t.cfg.MaxPacketBytes {
		t.stats.add(name, fRefused, 1)
		return time.Time{}, fmt.Errorf("write packet to %s: %d bytes with overhead, max %d",
			addr.String(), n, t.cfg.MaxPacketBytes)
	}
	wire := sealPacket(t.id.Load().key, t.cfg.Now(), b)
	n, err := t.udp.WriteToUDPAddrPort(wire, to)
	sent := time.Now()
	t.stats.add(name, fPacketOut, uint64(n))
	if err != nil {
		t.stats.add(name, fRefused, 1)
		return sent, err // a *net.OpError naming addr; kept unwrapped for memberlist, as above
	}
	t.stats.add(name, fPackets, 1)
	return sent, nil
}

// resolveUDP parses "ip:port", or resolves "host:port".
func resolveUDP(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// readLoop reads, checks and delivers packets until Shutdown. Checks run in
// this one goroutine, so a flood costs at most one core and, past the
// socket's buffer, is dropped by the kernel.
func (t *Transport) readLoop() {
	defer t.wg.Done()
	d := len(packetDomain)
	// Room for one byte more than the limit, to tell an oversized datagram
	// from one of exactly the limit.
	buf := make([]byte, d+t.cfg.MaxPacketBytes+1)
	copy(buf, packetDomain)
	for {
		n, from, err := t.udp.ReadFromUDPAddrPort(buf[d:])
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			t.dropLog.Log("read udp", "err", err)
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		t.stats.total.packetIn.Add(uint64(n))
		payload, peer, err := t.openPacket(buf[:d+n])
		if err != nil {
			t.stats.add(peer, fRefused, 1)
			t.dropLog.Log("packet dropped", "from", from, "peer", peer, "err", err)
			continue
		}
		t.learnAddr(from.String(), peer)
		t.stats.add(peer, fPackets, 1)
		p := &memberlist.Packet{Buf: payload, From: net.UDPAddrFromAddrPort(from), Timestamp: time.Now()}
		select {
		case t.packetCh <- p:
		case <-t.ctx.Done():
			return
		}
	}
}

// openPacket checks a received packet, given with packetDomain in front, and
// returns a copy of its payload and its sender's site name. The name is
// also returned with a non-nil error once the signature has verified (the
// sender is blocked), so the drop is counted against it.
func (t *Transport) openPacket(prefixed []byte) (payload []byte, peer string, err error) {
	wire := prefixed[len(packetDomain):]
	p, err := parsePacket(wire, t.cfg.MaxPacketBytes)
	if err != nil {
		return nil, "", err
	}
	name, ok := t.cfg.Peers.Lookup(p.sender)
	if !ok {
		return nil, "", fmt.Errorf("%w: %x", errPacketSender, []byte(p.sender))
	}
	if now := t.cfg.Now(); !inWindow(p.sent, now, t.cfg.PacketWindow) {
		return nil, "", fmt.Errorf("%w: sent %v, now %v, window %v", errPacketStale, p.sent, now, t.cfg.PacketWindow)
	}
	if !verifyPacket(prefixed, p) {
		return nil, "", fmt.Errorf("%w: claimed sender %s", errPacketSig, name)
	}
	// Counted from here on: the bytes are proven to be name's.
	if pc := t.stats.peer(name); pc != nil {
		pc.packetIn.Add(uint64(len(wire)))
	}
	if t.isBlocked(name) {
		return nil, name, fmt.Errorf("%w: %s", errPacketBlocked, name)
	}
	return bytes.Clone(p.payload), name, nil
}
