package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// Transport is the network transport of one site. Its methods are safe for
// concurrent use.
type Transport struct {
	cfg       Config
	log       *slog.Logger
	id        atomic.Pointer[identity] // the key this transport speaks as (SetKey)
	prev      atomic.Pointer[identity] // the one before the last SetKey, for dials refused under id; nil if none
	serverCfg *tls.Config

	tcp     *net.TCPListener
	udp     *net.UDPConn
	advAddr netip.AddrPort // from Config.AdvertiseAddr; invalid if unset

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	hsSlots  chan struct{} // one token per unauthenticated inbound connection

	ctx    context.Context // canceled by Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the transport started

	handlersMu sync.RWMutex
	handlers   map[byte]func(*Conn)
	perPeer    map[byte]int // LimitPerPeer, by channel

	mu      sync.Mutex
	closed  bool
	blocked map[string]bool
	conns   map[string]map[*Conn]struct{} // live streams by peer name
	inbound int                           // accepted streams in conns
	addrs   map[string]string             // "ip:port" -> site name

	stats    statsSet
	dropLog  *rateLog // packets dropped, handshakes failed: debug
	warnLog  *rateLog // protocol violations by authenticated peers: warn
	shutOnce sync.Once
	shutErr  error
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// New binds the TCP and UDP sockets of cfg.BindAddr and starts the accept
// and packet-read goroutines. Shutdown releases them.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("site", cfg.Name)
	pub := cfg.Key.Public().(ed25519.PublicKey)
	if name, ok := cfg.Peers.Lookup(pub); !ok {
		log.Warn("own key not in charter; peers will refuse this site")
	} else if name != cfg.Name {
		return nil, fmt.Errorf("transport: own key is site %q in the charter, config says %q", name, cfg.Name)
	}
	id, err := newIdentity(cfg.Name, cfg.Key, cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	t := &Transport{
		cfg:      cfg,
		log:      log,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		hsSlots:  make(chan struct{}, cfg.MaxHandshakes),
		handlers: make(map[byte]func(*Conn)),
		perPeer:  make(map[byte]int),
		blocked:  make(map[string]bool),
		conns:    make(map[string]map[*Conn]struct{}),
		addrs:    make(map[string]string),
		dropLog:  newRateLog(log, slog.LevelDebug, 10),
		warnLog:  newRateLog(log, slog.LevelWarn, 10),
	}
	t.id.Store(id)
	if cfg.AdvertiseAddr != "" {
		t.advAddr = netip.MustParseAddrPort(cfg.AdvertiseAddr) // checked by Validate
	}
	t.serverCfg = t.serverTLS()
	t.tcp, t.udp, err = listen(netip.MustParseAddrPort(cfg.BindAddr))
	if err != nil {
		return nil, fmt.Errorf("transport: bind %s: %w", cfg.BindAddr, err)
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.wg.Add(2)
	go t.acceptLoop()
	go t.readLoop()
	ip, port := t.Addr()
	log.Info("transport listening", "ip", ip, "port", port)
	return t, nil
}

// udpRecvBuf is the UDP receive buffer asked of the kernel, as memberlist's
// own transport does; smaller is tried if refused.
const udpRecvBuf = 2 << 20

// listen binds TCP and UDP on the same port. With port 0 the TCP port is
// picked first, and the pick is retried if its UDP twin is taken.
func listen(bind netip.AddrPort) (*net.TCPListener, *net.UDPConn, error) {
	var lastErr error
	for range 10 {
		tl, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(bind))
		if err != nil {
			return nil, nil, fmt.Errorf("listen tcp: %w", err)
		}
		port := uint16(tl.Addr().(*net.TCPAddr).Port)
		ul, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(bind.Addr(), port)))
		if err == nil {
			for size := udpRecvBuf; size > 0; size /= 2 {
				if ul.SetReadBuffer(size) == nil {
					break
				}
			}
			return tl, ul, nil
		}
		_ = tl.Close()
		lastErr = fmt.Errorf("listen udp: %w", err)
		if bind.Port() != 0 {
			break
		}
	}
	return nil, nil, lastErr
}

// Addr returns the bound IP and port (the same for TCP and UDP).
func (t *Transport) Addr() (ip net.IP, port int) {
	a := t.tcp.Addr().(*net.TCPAddr)
	return a.IP, a.Port
}

// FinalAdvertiseAddr implements memberlist.Transport. memberlist's own
// advertise address wins if set, then Config.AdvertiseAddr, then the bound
// address.
func (t *Transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, 0, fmt.Errorf("transport: advertise address %q: %w", ip, err)
		}
		return net.IP(a.Unmap().AsSlice()), port, nil
	}
	if t.advAddr.IsValid() {
		return net.IP(t.advAddr.Addr().Unmap().AsSlice()), int(t.advAddr.Port()), nil
	}
	bip, bport := t.Addr()
	if bip.IsUnspecified() {
		return nil, 0, fmt.Errorf("transport: bound to unspecified %s; set AdvertiseAddr", bip)
	}
	if v4 := bip.To4(); v4 != nil {
		bip = v4
	}
	return bip, bport, nil
}

// Shutdown implements memberlist.Transport: it closes the listeners and
// every connection, and waits for the transport's goroutines, handlers
// included, to return. Later calls return the first call's result.
func (t *Transport) Shutdown() error {
	t.shutOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		var open []*Conn
		for _, set := range t.conns {
			for c := range set {
				open = append(open, c)
			}
		}
		t.mu.Unlock()
		t.cancel()
		t.shutErr = errors.Join(closeErr("tcp listener", t.tcp.Close()), closeErr("udp socket", t.udp.Close()))
		for _, c := range open {
			c.abort()
		}
		t.wg.Wait()
		t.log.Info("transport shut down")
	})
	return t.shutErr
}

func closeErr(what string, err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("transport: close %s: %w", what, err)
}

// normalAddr returns addr in the canonical "ip:port" form (IPv4-mapped
// addresses unmapped), or addr itself if it is not an IP and port.
func normalAddr(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return addr
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}
