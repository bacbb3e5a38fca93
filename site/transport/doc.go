// Package transport is the network transport of an Atoll site: it carries
// hashicorp/memberlist's packets and streams (it implements
// memberlist.NodeAwareTransport) and Atoll's own streams, and every peer
// proves its identity. Identity is a site's Ed25519 key as the federation
// charter lists it (Peers); there is no shared symmetric key and no CA.
//
// One port serves both halves: TCP for streams, UDP for packets.
//
// # Streams
//
// A stream is TLS 1.3, mutually authenticated. Each site presents a
// certificate it made at startup, self-signed by its identity key, with its
// name as common name. Verification ignores chains, names and dates: a
// peer must present exactly one certificate, holding an Ed25519 key, self-
// signed by that key, and Peers.Lookup must know the key. The TLS 1.3
// CertificateVerify message proves the peer holds the private key. A dialer
// that names a site also requires the key to be that site's. A peer outside
// the charter, or blocked, fails the handshake, before any application byte
// is read.
//
// After the handshake the dialer sends one channel byte and the acceptor
// echoes it once it has taken the stream:
//
//	dialer                         acceptor
//	TLS 1.3 handshake (mutual)  ⇄  (within HandshakeTimeout, at most MaxHandshakes at once)
//	channel byte            ──▶    'M': memberlist, delivered on StreamCh
//	                               other: the handler registered with Handle
//	                               (at most MaxStreams inbound, MaxStreamsPerPeer
//	                               from one peer, LimitPerPeer on one channel;
//	                               over a limit: closed, counted in Limited)
//	                        ◀──    the same byte: stream accepted
//
// The echo costs one round trip but lets Dial fail, rather than the first
// read after it, when the acceptor refuses the stream: TLS 1.3 finishes the
// client's handshake before the server has checked the client's
// certificate, so without it a refused dialer would only learn of it later.
//
// # Packets
//
// A packet (UDP datagram) is
//
//	version 1 (1 byte) | sender public key (32) | unix-milli timestamp, big-endian (8) | payload | signature (64)
//
// signed with Ed25519 over "atoll-packet-v1" followed by every byte before
// the signature. A receiver drops, counts and logs at debug (rate-limited) a
// packet that is too short or too long, of another version, from a key not
// in the charter, stamped more than PacketWindow from its clock, badly
// signed, or from a blocked site. Replays within the window are not
// detected; memberlist tolerates duplicated messages (sequence numbers,
// incarnations). Packets are signed, not encrypted. PacketOverhead bytes are
// added to each payload, so set memberlist's UDPBufferSize that much below
// the path's budget.
//
// # Fault injection
//
// Block, Unblock and Blocked cut this process off from named sites, both
// ways, for tests: packets dropped, streams refused, open streams closed.
// Writes by address alone (WriteTo, DialTimeout) are refused if the address
// was last seen as a blocked site's. A refused packet write or dial returns a
// *net.OpError ("write udp", "dial tcp") wrapping ErrBlocked: memberlist
// takes exactly that for a failure of the remote side, and so reacts as to a
// real partition (indirect probes, suspicion) instead of skipping the probe.
//
// # Goroutines
//
// A Transport owns these goroutines; Shutdown ends them all and waits:
//
//   - the accept loop: accepts TCP connections and starts one goroutine for
//     each, so a silent peer never holds it up;
//   - one per accepted connection: its handshake, then, for an Atoll
//     channel, its handler until the handler returns;
//   - the packet reader: reads, checks and delivers UDP packets in order.
//
// Dial runs in its caller's goroutine.
package transport
