package transport

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestPacketRoundTrip(t *testing.T) {
	a, b, _ := pair(t)
	if _, err := a.WriteToAddress([]byte("ping"), memberlist.Address{Addr: addrOf(b), Name: "b"}); err != nil {
		t.Fatalf("WriteToAddress: %v", err)
	}
	p := recvPacket(t, b)
	if string(p.Buf) != "ping" {
		t.Errorf("payload %q, want ping", p.Buf)
	}
	if p.From.String() != addrOf(a) {
		t.Errorf("From %v, want %s", p.From, addrOf(a))
	}
	// b learned a's address from the signed packet, so WriteTo by address
	// alone is accounted to "a".
	if _, err := b.WriteTo([]byte("pong"), p.From.String()); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if p := recvPacket(t, a); string(p.Buf) != "pong" {
		t.Errorf("payload %q, want pong", p.Buf)
	}
	_, per := b.Stats()
	if s := per["a"]; s.Packets != 2 || s.PacketBytesIn != uint64(len("ping")+PacketOverhead) ||
		s.PacketBytesOut != uint64(len("pong")+PacketOverhead) {
		t.Errorf("b's stats for a = %+v", s)
	}
}

func TestStreamEcho(t *testing.T) {
	a, b, _ := pair(t)
	accepted := make(chan string, 1)
	b.Handle('S', func(c *Conn) {
		accepted <- c.Peer
		echo(c)
	})
	c, err := a.Dial(t.Context(), addrOf(b), "b", 'S')
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if c.Peer != "b" || !c.Key.Equal(testKey(2).Public()) {
		t.Errorf("dialed Conn is %q %x, want b", c.Peer, c.Key)
	}
	if err := roundTrip(c, "hello, atoll"); err != nil {
		t.Fatal(err)
	}
	if peer := <-accepted; peer != "a" {
		t.Errorf("accepted Conn is %q, want a", peer)
	}
	total, per := a.Stats()
	if total.Streams != 1 || per["b"].Streams != 1 || per["b"].StreamBytesOut == 0 || per["b"].StreamBytesIn == 0 {
		t.Errorf("a's stats: total %+v, b %+v", total, per["b"])
	}
}

func TestMemberlistStream(t *testing.T) {
	a, b, _ := pair(t)
	for _, addr := range []memberlist.Address{{Addr: addrOf(b), Name: "b"}, {Addr: addrOf(b)}} {
		nc, err := a.DialAddressTimeout(addr, waitTimeout)
		if err != nil {
			t.Fatalf("DialAddressTimeout(%v): %v", &addr, err)
		}
		var got net.Conn
		select {
		case got = <-b.StreamCh():
		case <-time.After(waitTimeout):
			t.Fatal("no stream on StreamCh")
		}
		if c, ok := got.(*Conn); !ok || c.Peer != "a" {
			t.Fatalf("StreamCh delivered %T %+v, want *Conn from a", got, got)
		}
		go echo(got.(*Conn))
		if err := roundTrip(nc, "push-pull"); err != nil {
			t.Fatal(err)
		}
		nc.Close()
		got.Close()
	}
}

func TestDialWrongName(t *testing.T) {
	a, b, ch := pair(t)
	ch.add("c", testKey(3))
	b.Handle('S', echo)
	_, err := a.Dial(t.Context(), addrOf(b), "c", 'S')
	if !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("Dial to b as c: err %v, want ErrWrongPeer", err)
	}
	_, err = a.DialAddressTimeout(memberlist.Address{Addr: addrOf(b), Name: "c"}, waitTimeout)
	if !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("DialAddressTimeout to b as c: err %v, want ErrWrongPeer", err)
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	a, b, _ := pair(t)
	// The outsider knows b, but b's charter does not list the outsider.
	outsiderView := newCharter()
	outsiderView.add("b", testKey(2))
	outsiderView.add("x", testKey(9))
	x := newSite(t, outsiderView, "x", testKey(9), nil)

	delivered := make(chan string, 1)
	b.Handle('S', func(c *Conn) { delivered <- c.Peer })

	if _, err := x.Dial(t.Context(), addrOf(b), "b", 'S'); err == nil {
		t.Fatal("Dial from a key not in the charter succeeded")
	}
	if _, err := x.DialTimeout(addrOf(b), waitTimeout); err == nil {
		t.Fatal("DialTimeout from a key not in the charter succeeded")
	}
	waitFor(t, "b to count 2 refused streams", func() bool { return refused(b) >= 2 })
	select {
	case p := <-delivered:
		t.Fatalf("handler got a stream from %q", p)
	case c := <-b.StreamCh():
		t.Fatalf("StreamCh delivered %v", c.RemoteAddr())
	default:
	}

	// Its packets are dropped; a's are not. b reads packets in order, so
	// once a's packet is out the outsider's was judged before it.
	before := refused(b)
	if _, err := x.WriteToAddress([]byte("let me in"), memberlist.Address{Addr: addrOf(b), Name: "b"}); err != nil {
		t.Fatalf("outsider WriteTo: %v", err)
	}
	if _, err := a.WriteToAddress([]byte("member"), memberlist.Address{Addr: addrOf(b), Name: "b"}); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if p := recvPacket(t, b); string(p.Buf) != "member" {
		t.Fatalf("b got %q, want a's packet only", p.Buf)
	}
	if got := refused(b); got != before+1 {
		t.Errorf("b refused %d packets, want 1", got-before)
	}
	// A site not in our charter is refused by the dialer too.
	if _, err := b.DialTimeout(addrOf(x), waitTimeout); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("b dialing the outsider: err %v, want ErrUnknownPeer", err)
	}
}

func TestUnknownChannel(t *testing.T) {
	a, b, _ := pair(t)
	if _, err := a.Dial(t.Context(), addrOf(b), "b", 'Z'); err == nil {
		t.Fatal("Dial on a channel without handler succeeded")
	}
	waitFor(t, "b to refuse the stream", func() bool { return refused(b) == 1 })
}

func TestHandlePanicsOnReservedChannel(t *testing.T) {
	a, _, _ := pair(t)
	defer func() {
		if recover() == nil {
			t.Error("Handle('M') did not panic")
		}
	}()
	a.Handle(ChannelMemberlist, echo)
}

func TestSilentPeerDoesNotBlockAccept(t *testing.T) {
	ch := newCharter()
	ch.add("a", testKey(1))
	ch.add("b", testKey(2))
	a := newSite(t, ch, "a", testKey(1), nil)
	b := newSite(t, ch, "b", testKey(2), func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	b.Handle('S', echo)

	silent, err := net.Dial("tcp", addrOf(b))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c, err := a.Dial(t.Context(), addrOf(b), "b", 'S')
	if err != nil {
		t.Fatalf("Dial while a silent peer is connected: %v", err)
	}
	if err := roundTrip(c, "still here"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The silent connection is closed after HandshakeTimeout.
	if err := silent.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("silent connection read: %v, want EOF", err)
	}
}

func TestHandshakeCap(t *testing.T) {
	ch := newCharter()
	ch.add("a", testKey(1))
	ch.add("b", testKey(2))
	a := newSite(t, ch, "a", testKey(1), nil)
	b := newSite(t, ch, "b", testKey(2), func(c *Config) {
		c.MaxHandshakes = 2
		c.HandshakeTimeout = time.Hour
	})
	b.Handle('S', echo)

	var silent []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addrOf(b))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	// The third is over the cap: closed at once, not after an hour.
	if err := silent[2].SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := silent[2].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection over the cap: read %v, want EOF", err)
	}
	// Freeing the slots lets a real peer in again.
	silent[0].Close()
	silent[1].Close()
	waitFor(t, "b to release the handshake slots", func() bool { return refused(b) == 3 })
	c, err := a.Dial(t.Context(), addrOf(b), "b", 'S')
	if err != nil {
		t.Fatalf("Dial after the flood: %v", err)
	}
	c.Close()
}
