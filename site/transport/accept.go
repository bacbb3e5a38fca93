package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ChannelMemberlist is the channel byte of memberlist's streams, which are
// delivered on StreamCh. Handle refuses it.
const ChannelMemberlist byte = 'M'

// Handle registers h for streams that dialers open on channel. Each stream
// runs h in its own goroutine and is closed when h returns; h must return
// once c is closed (Block, Shutdown), since Shutdown waits for it. Register
// handlers before traffic arrives: a stream on a channel without a handler
// is closed and logged. Handle panics if channel is ChannelMemberlist or h is
// nil, which are programming errors.
func (t *Transport) Handle(channel byte, h func(c *Conn)) {
	if channel == ChannelMemberlist {
		panic("transport: Handle: channel 'M' is reserved for memberlist")
	}
	if h == nil {
		panic(fmt.Sprintf("transport: Handle: nil handler for channel %q", channel))
	}
	t.handlersMu.Lock()
	defer t.handlersMu.Unlock()
	t.handlers[channel] = h
}

func (t *Transport) handler(channel byte) func(*Conn) {
	t.handlersMu.RLock()
	defer t.handlersMu.RUnlock()
	return t.handlers[channel]
}

// StreamCh implements memberlist.Transport: authenticated streams opened on
// ChannelMemberlist, each a *Conn.
func (t *Transport) StreamCh() <-chan net.Conn {
	return t.streamCh
}

// acceptLoop accepts TCP connections until Shutdown and hands each to its
// own goroutine, so a slow or silent peer never holds it up.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	const maxDelay = time.Second
	var delay time.Duration
	for {
		raw, err := t.tcp.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			// Resource exhaustion (EMFILE and the like): back off, as
			// net/http and memberlist do.
			delay = min(max(2*delay, 5*time.Millisecond), maxDelay)
			t.log.Error("accept tcp", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		select {
		case t.hsSlots <- struct{}{}:
		default:
			_ = raw.Close()
			t.stats.add("", fRefused, 1)
			t.dropLog.Log("stream refused: too many handshakes", "from", raw.RemoteAddr())
			continue
		}
		t.wg.Add(1)
		go t.serve(raw)
	}
}

// serve authenticates one accepted connection and dispatches it.
func (t *Transport) serve(raw net.Conn) {
	defer t.wg.Done()
	c, peer, channel, err := t.acceptConn(raw)
	<-t.hsSlots
	if err != nil {
		t.stats.add(peer, fRefused, 1)
		t.dropLog.Log("stream refused", "from", raw.RemoteAddr(), "peer", peer, "err", err)
		return
	}
	t.stats.add(peer, fStreams, 1)
	if channel == ChannelMemberlist {
		select {
		case t.streamCh <- c:
		case <-t.ctx.Done():
			_ = c.Close()
		}
		return
	}
	defer c.Close()
	t.handler(channel)(c)
}

// acceptConn runs the server side of the stream handshake on raw: TLS, then
// the channel byte, then its echo as acknowledgement, all within
// HandshakeTimeout. On error raw is closed, and peer names the other side if
// it is a charter site (refused because blocked, say).
func (t *Transport) acceptConn(raw net.Conn) (c *Conn, peer string, channel byte, err error) {
	cc := newCountingConn(raw, &t.stats)
	closed := make(chan struct{})
	stop := context.AfterFunc(t.ctx, func() { _ = cc.Close(); close(closed) })
	defer func() {
		if !stop() {
			<-closed // Shutdown closed it: wait, so no goroutine outlives serve
		}
	}()
	defer func() {
		if err != nil {
			_ = cc.Close()
		}
	}()
	if err := cc.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return nil, "", 0, fmt.Errorf("set deadline: %w", err)
	}
	tc := tls.Server(cc, t.serverCfg)
	hsErr := tc.Handshake()
	// The peer's certificate is known even if VerifyConnection refused it.
	peer, key, err := identify(t.cfg.Peers, tc.ConnectionState().PeerCertificates)
	if err == nil {
		cc.attach(t.stats.peer(peer))
	}
	if hsErr != nil {
		return nil, peer, 0, fmt.Errorf("tls handshake: %w", hsErr)
	}
	if err != nil {
		return nil, "", 0, err // the charter changed since the handshake
	}
	var b [1]byte
	if _, err := io.ReadFull(tc, b[:]); err != nil {
		return nil, peer, 0, fmt.Errorf("read channel byte: %w", err)
	}
	channel = b[0]
	c = &Conn{Conn: tc, Peer: peer, Key: key, t: t, raw: cc, channel: channel, inbound: true}
	if channel != ChannelMemberlist && t.handler(channel) == nil {
		t.warnLog.Log("stream on unknown channel", "peer", peer, "channel", channel)
		return nil, peer, 0, fmt.Errorf("no handler for channel %q", channel)
	}
	if err := t.track(c); err != nil {
		if errors.Is(err, errLimit) {
			t.stats.add(peer, fLimited, 1)
			t.warnLog.Log("stream refused: limit reached", "peer", peer, "channel", channel, "err", err)
		}
		return nil, peer, 0, err
	}
	if _, err := tc.Write(b[:]); err != nil {
		t.untrack(c)
		return nil, peer, 0, fmt.Errorf("acknowledge channel: %w", err)
	}
	if err := cc.SetDeadline(time.Time{}); err != nil {
		t.untrack(c)
		return nil, peer, 0, fmt.Errorf("clear deadline: %w", err)
	}
	return c, peer, channel, nil
}
