package transport

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Peers says who may connect. It is backed by the federation charter, which
// changes at run time, so the transport calls it for every handshake and
// every packet and never caches its answers. It must be safe for concurrent
// use and quick: the packet reader calls it for every datagram.
type Peers interface {
	// Lookup returns the site name for a key; false if the key is not a
	// site in the charter.
	Lookup(key ed25519.PublicKey) (name string, ok bool)
}

// Defaults used by DefaultConfig and for zero fields of a Config given to New.
const (
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultPacketWindow     = 2 * time.Minute
	DefaultMaxPacketBytes   = 64 << 10
	DefaultMaxHandshakes    = 64
	DefaultMaxStreams       = 1024
	DefaultMaxStreamsPeer   = 64
)

// Config configures a Transport. Name, Key, BindAddr and Peers are required;
// a zero value of any other field means its default.
type Config struct {
	// Name is this site's name as the charter lists it.
	Name string
	// Key is this site's Ed25519 identity key; its public half is the key the
	// charter lists for Name. It signs the TLS certificate and every packet,
	// until SetKey replaces it.
	Key ed25519.PrivateKey
	// BindAddr is "ip:port" for both the TCP listener (TLS streams) and the
	// UDP socket (packets), which share the port number. Port 0 picks a free
	// port, the same number for both. The host must be an IP literal.
	BindAddr string
	// AdvertiseAddr is the "ip:port" told to peers (FinalAdvertiseAddr) when
	// memberlist has no advertise address of its own. Default: the bound
	// address, which must then not be unspecified (0.0.0.0 or ::).
	AdvertiseAddr string
	// Peers says who may connect; see Peers.
	Peers Peers
	// Logger receives the transport's logs. Default: discard.
	Logger *slog.Logger
	// HandshakeTimeout bounds, per connection, the TLS handshake plus the
	// channel byte and its acknowledgement, on both the accepting and the
	// dialing side. Default 5 s.
	HandshakeTimeout time.Duration
	// PacketWindow is the accepted clock skew of a signed packet: a packet
	// whose timestamp is more than PacketWindow away from Now is dropped.
	// Default 2 min.
	PacketWindow time.Duration
	// MaxPacketBytes is the largest datagram, in bytes on the wire
	// (PacketOverhead included), that is sent or accepted. Default 64 KiB;
	// UDP itself carries at most 65,507 bytes over IPv4.
	MaxPacketBytes int
	// MaxHandshakes caps the inbound connections that are not yet
	// authenticated (handshake and channel byte pending). A connection
	// accepted while the cap is reached is closed at once and counted as
	// refused. Default 64.
	MaxHandshakes int
	// MaxStreams caps the inbound streams open at once, every peer and channel
	// (memberlist's included). A stream accepted at the cap is refused after
	// the handshake, before its channel is acknowledged. Default 1024: with
	// MaxHandshakes, what bounds the descriptors inbound streams hold.
	MaxStreams int
	// MaxStreamsPerPeer caps the inbound streams one peer may have open at
	// once, every channel together, so that one insider cannot take all of
	// MaxStreams. Default 64. LimitPerPeer caps single channels further.
	MaxStreamsPerPeer int
	// Now is the clock that stamps and checks packet timestamps.
	// Default time.Now. Socket deadlines always use the real clock.
	Now func() time.Time
}

// DefaultConfig returns a Config with every tunable at its default. The
// caller fills in Name, Key, BindAddr, Peers and usually Logger.
func DefaultConfig() Config {
	return Config{
		HandshakeTimeout:  DefaultHandshakeTimeout,
		PacketWindow:      DefaultPacketWindow,
		MaxPacketBytes:    DefaultMaxPacketBytes,
		MaxHandshakes:     DefaultMaxHandshakes,
		MaxStreams:        DefaultMaxStreams,
		MaxStreamsPerPeer: DefaultMaxStreamsPeer,
	}
}

// Validate reports the first problem with c. Zero tunables are valid (they
// mean the default). It does not change c.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("transport config: Name is empty")
	case len(c.Key) != ed25519.PrivateKeySize:
		return fmt.Errorf("transport config: Key is %d bytes, want an ed25519 private key of %d",
			len(c.Key), ed25519.PrivateKeySize)
	case c.Peers == nil:
		return errors.New("transport config: Peers is nil")
	case c.HandshakeTimeout < 0:
		return fmt.Errorf("transport config: negative HandshakeTimeout %v", c.HandshakeTimeout)
	case c.PacketWindow < 0:
		return fmt.Errorf("transport config: negative PacketWindow %v", c.PacketWindow)
	case c.MaxPacketBytes != 0 && c.MaxPacketBytes <= PacketOverhead:
		return fmt.Errorf("transport config: MaxPacketBytes %d leaves no room for a payload (overhead %d)",
			c.MaxPacketBytes, PacketOverhead)
	case c.MaxHandshakes < 0:
		return fmt.Errorf("transport config: negative MaxHandshakes %d", c.MaxHandshakes)
	case c.MaxStreams < 0 || c.MaxStreamsPerPeer < 0:
		return fmt.Errorf("transport config: negative MaxStreams %d or MaxStreamsPerPeer %d", c.MaxStreams, c.MaxStreamsPerPeer)
	}
	if _, err := netip.ParseAddrPort(c.BindAddr); err != nil {
		return fmt.Errorf("transport config: BindAddr: %w", err)
	}
	if c.AdvertiseAddr != "" {
		ap, err := netip.ParseAddrPort(c.AdvertiseAddr)
		if err != nil {
			return fmt.Errorf("transport config: AdvertiseAddr: %w", err)
		}
		if ap.Port() == 0 || ap.Addr().IsUnspecified() {
			return fmt.Errorf("transport config: AdvertiseAddr %q is not a reachable address", c.AdvertiseAddr)
		}
	}
	return nil
}

// withDefaults returns c with every zero tunable set to its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = d.HandshakeTimeout
	}
	if c.PacketWindow == 0 {
		c.PacketWindow = d.PacketWindow
	}
	if c.MaxPacketBytes == 0 {
		c.MaxPacketBytes = d.MaxPacketBytes
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = d.MaxHandshakes
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = d.MaxStreams
	}
	if c.MaxStreamsPerPeer == 0 {
		c.MaxStreamsPerPeer = d.MaxStreamsPerPeer
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
