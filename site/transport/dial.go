package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// Dial opens a stream on channel to the site name at addr ("host:port"). It
// fails unless the peer proves, in the TLS handshake, that it holds the key
// that Peers maps to name, and acknowledges the channel. The handshake is
// bounded by ctx and by HandshakeTimeout; the returned Conn is not.
func (t *Transport) Dial(ctx context.Context, addr, name string, channel byte) (*Conn, error) {
	if name == "" {
		return nil, fmt.Errorf("dial %s: empty site name", addr)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	return t.dial(ctx, addr, name, channel)
}

// DialTimeout implements memberlist.Transport: a memberlist stream to
// whichever charter site is at addr.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport: a memberlist
// stream to addr.Addr, which must be the site addr.Name if that is set.
func (t *Transport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := t.dial(ctx, addr.Addr, addr.Name, ChannelMemberlist)
	if err != nil {
		return nil, err // a nil *Conn must not become a non-nil net.Conn
	}
	return c, nil
}

// dial runs the client side of the stream handshake as this transport's key
// and, if the peer refuses it with a TLS alert and SetKey left a previous key,
// once more as that one (see SetKey).
func (t *Transport) dial(ctx context.Context, addr, want string, channel byte) (*Conn, error) {
	c, err := t.dialAs(ctx, addr, want, channel, t.id.Load())
	prev := t.prev.Load()
	if err == nil || prev == nil || !refusedByPeer(err) || ctx.Err() != nil {
		return c, err
	}
	c, perr := t.dialAs(ctx, addr, want, channel, prev)
	if perr != nil {
		return nil, errors.Join(err, fmt.Errorf("as the previous key: %w", perr))
	}
	t.dropLog.Log("dialed as the previous key: the peer does not know the current one yet", "peer", c.Peer)
	return c, nil
}

// dialAs runs the client side of the stream handshake, presenting id: TCP,
// TLS checking the peer is want (any charter site if ""), the channel byte,
// and its echo.
func (t *Transport) dialAs(ctx context.Context, addr, want string, channel byte, id *identity) (c *Conn, err error) {
	target := addr
	if want != "" {
		target = want + " at " + addr
	} else if known := t.nameOf(addr); known != "" && t.isBlocked(known) {
		// Only the address is given, and it is a blocked site's: refuse
		// early. Otherwise the handshake decides.
		t.stats.add(known, fRefused, 1)
		return nil, blockedDial(addr, known)
	}
	refuse := func(peer string, e error) (*Conn, error) {
		t.stats.add(peer, fRefused, 1)
		return nil, fmt.Errorf("dial %s: %w", target, e)
	}
	if t.ctx.Err() != nil {
		return refuse(want, ErrClosed)
	}
	if want != "" && t.isBlocked(want) {
		t.stats.add(want, fRefused, 1)
		return nil, blockedDial(addr, want)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnShutdown := context.AfterFunc(t.ctx, cancel)
	defer stopOnShutdown()

	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return refuse(want, err)
	}
	cc := newCountingConn(raw, &t.stats)
	// Closing the connection is what interrupts a read or write in
	// progress when ctx ends.
	closed := make(chan struct{})
	stopClose := context.AfterFunc(ctx, func() { _ = cc.Close(); close(closed) })
	defer func() {
		stopped := stopClose()
		if !stopped {
			<-closed // no goroutine outlives the dial
		}
		if !stopped && err == nil {
			c.abort()
			c, err = refuse(c.Peer, context.Cause(ctx))
		}
		if err != nil {
			_ = cc.Close()
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		if err := cc.SetDeadline(dl); err != nil {
			return refuse(want, fmt.Errorf("set deadline: %w", err))
		}
	}
	tc := tls.Client(cc, t.clientTLS(want, id))
	if err := tc.HandshakeContext(ctx); err != nil {
		// Our own check may have refused a charter site (wrong one, blocked).
		peer := want
		if name, _, ierr := identify(t.cfg.Peers, tc.ConnectionState().PeerCertificates); ierr == nil {
			peer = name
			cc.attach(t.stats.peer(peer))
		}
		return refuse(peer, fmt.Errorf("tls handshake: %w", err))
	}
	peer, key, err := identify(t.cfg.Peers, tc.ConnectionState().PeerCertificates)
	if err != nil {
		return refuse(want, err) // the charter changed since the handshake
	}
	cc.attach(t.stats.peer(peer))
	conn := &Conn{Conn: tc, Peer: peer, Key: key, t: t, raw: cc}
	if err := t.track(conn); err != nil {
		return refuse(peer, err)
	}
	untrack := func(e error) (*Conn, error) {
		t.untrack(conn)
		return refuse(peer, e)
	}
	if _, err := tc.Write([]byte{channel}); err != nil {
		return untrack(fmt.Errorf("write channel byte: %w", err))
	}
	var ack [1]byte
	if _, err := io.ReadFull(tc, ack[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("peer %s closed the stream: refused, blocked us, or has no handler for channel %q", peer, channel)
		}
		return untrack(fmt.Errorf("read channel acknowledgement: %w", err))
	}
	if ack[0] != channel {
		return untrack(fmt.Errorf("peer %s acknowledged channel %q, want %q", peer, ack[0], channel))
	}
	if err := cc.SetDeadline(time.Time{}); err != nil {
		return untrack(fmt.Errorf("clear deadline: %w", err))
	}
	t.learnAddr(addr, peer)
	t.stats.add(peer, fStreams, 1)
	return conn, nil
}

// blockedDial is the error of a dial to a blocked site: a dial *net.OpError,
// as a network partition would give.
func blockedDial(addr, name string) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: stringAddr(addr), Err: fmt.Errorf("%w: %s", ErrBlocked, name)}
}

// stringAddr is a net.Addr for an address given as a string.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
