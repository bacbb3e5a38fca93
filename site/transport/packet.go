package transport

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Packet wire format, version 1:
//
//	version (1) | sender public key (32) | unix-milli timestamp, big-endian (8) | payload | signature (64)
//
// The Ed25519 signature covers packetDomain followed by every byte before
// the signature.
const (
	packetVersion = 1
	packetDomain  = "atoll-packet-v1"
	headerLen     = 1 + ed25519.PublicKeySize + 8
	// PacketOverhead is how many bytes a packet adds to its payload. Size
	// memberlist's UDPBufferSize to the path MTU budget minus this.
	PacketOverhead = headerLen + ed25519.SignatureSize
)

// Reasons a packet is dropped; wrapped with detail by openPacket.
var (
	errPacketShort   = errors.New("packet too short")
	errPacketLong    = errors.New("packet too long")
	errPacketVersion = errors.New("unknown packet version")
	errPacketStale   = errors.New("packet timestamp outside window")
	errPacketSig     = errors.New("bad packet signature")
	errPacketSender  = errors.New("packet sender not in charter")
	errPacketBlocked = errors.New("packet sender blocked")
)

// sealPacket returns the wire form of payload from key at time sent. The
// returned slice sits at offset len(packetDomain) of its backing array,
// which holds the domain string in front (one allocation, no copy).
func sealPacket(key ed25519.PrivateKey, sent time.Time, payload []byte) []byte {
	d := len(packetDomain)
	buf := make([]byte, d+headerLen+len(payload)+ed25519.SignatureSize)
	copy(buf, packetDomain)
	wire := buf[d:]
	wire[0] = packetVersion
	copy(wire[1:], key.Public().(ed25519.PublicKey))
	binary.BigEndian.PutUint64(wire[1+ed25519.PublicKeySize:], uint64(sent.UnixMilli()))
	copy(wire[headerLen:], payload)
	signed := buf[:d+headerLen+len(payload)]
	copy(wire[headerLen+len(payload):], ed25519.Sign(key, signed))
	return wire
}

// packet is a parsed, not yet verified, wire packet. Its slices alias the
// buffer given to parsePacket.
type packet struct {
	sender  ed25519.PublicKey
	sent    time.Time
	payload []byte
	sig     []byte
}

// parsePacket splits wire into its fields after checking its length (at most
// max bytes) and version. It does not verify the signature.
func parsePacket(wire []byte, max int) (packet, error) {
	if len(wire) < PacketOverhead {
		return packet{}, fmt.Errorf("%w: %d bytes, need %d", errPacketShort, len(wire), PacketOverhead)
	}
	if len(wire) > max {
		return packet{}, fmt.Errorf("%w: %d bytes, max %d", errPacketLong, len(wire), max)
	}
	if wire[0] != packetVersion {
		return packet{}, fmt.Errorf("%w: %d", errPacketVersion, wire[0])
	}
	end := len(wire) - ed25519.SignatureSize
	ms := binary.BigEndian.Uint64(wire[1+ed25519.PublicKeySize:])
	return packet{
		sender:  ed25519.PublicKey(wire[1 : 1+ed25519.PublicKeySize]),
		sent:    time.UnixMilli(int64(ms)),
		payload: wire[headerLen:end],
		sig:     wire[end:],
	}, nil
}

// verifyPacket reports whether the signature of the packet in prefixed is
// good. prefixed is packetDomain followed by the wire packet, already parsed
// by parsePacket as p.
func verifyPacket(prefixed []byte, p packet) bool {
	return ed25519.Verify(p.sender, prefixed[:len(prefixed)-ed25519.SignatureSize], p.sig)
}

// inWindow reports whether sent is within window of now, either way.
func inWindow(sent, now time.Time, window time.Duration) bool {
	d := now.Sub(sent)
	return d <= window && d >= -window
}
