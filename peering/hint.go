package peering

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Hints: a site tells each live peer its Meta on the push stream it already holds to that
// peer, in a hint frame beside the change envelopes, instead of in memberlist metadata that
// memberlist gossips to every site (docs/adr/0015-hints-on-push-streams.md).
//
// A hint frame's body is HintTag followed by Meta.Encode. An envelope's body starts with
// its header's length as a uvarint, and no change has an empty header, so an envelope never
// starts with HintTag: the first byte types the frame.

// HintTag is the first byte of a hint frame's body.
const HintTag byte = 0x00

// MaxMetaBytes is the longest Meta encoding: version, change count, head count, heads.
const MaxMetaBytes = 1 + binary.MaxVarintLen64 + 1 + 32*MaxMetaHeads

// MaxHintBytes is the longest hint frame body; a longer one is refused.
const MaxHintBytes = 1 + MaxMetaBytes

// PushVersionHints is the byte the acceptor of a push stream writes first, once, to say
// that it reads hint frames. An acceptor of an earlier release writes nothing; its dialer
// sends envelopes only.
const PushVersionHints byte = 2

// ErrHintTooLarge is returned by DecodeHint for a frame above MaxHintBytes.
var ErrHintTooLarge = errors.New("peering: hint frame too large")

// EncodeHint returns the body of a hint frame carrying m.
func EncodeHint(m Meta) []byte {
	return append([]byte{HintTag}, m.Encode()...)
}

// IsHint reports whether a push stream frame is a hint frame (else an envelope).
func IsHint(frame []byte) bool { return len(frame) > 0 && frame[0] == HintTag }

// DecodeHint parses a hint frame's body, refusing one above MaxHintBytes before decoding.
func DecodeHint(frame []byte) (Meta, error) {
	if len(frame) > MaxHintBytes {
		return Meta{}, fmt.Errorf("%w: %d bytes, at most %d", ErrHintTooLarge, len(frame), MaxHintBytes)
	}
	if !IsHint(frame) {
		return Meta{}, fmt.Errorf("peering: not a hint frame")
	}
	m, err := DecodeMeta(frame[1:])
	if err != nil {
		return Meta{}, fmt.Errorf("peering: hint frame: %w", err)
	}
	return m, nil
}

// Pacer spaces the hints sent to one peer: at most one per Interval, and one is owed
// whenever the state changed since the last, so that the peer always ends with the
// latest. The caller encodes the hint when it sends it, so it is the latest state then.
type Pacer struct {
	Interval time.Duration
	last     time.Time // when the last hint went; zero if none yet
	owed     bool
}

// Want records that the state changed: a hint is owed.
func (p *Pacer) Want() { p.owed = true }

// Owed reports whether a hint is owed.
func (p *Pacer) Owed() bool { return p.owed }

// Due reports whether an owed hint may go at now, and otherwise how long until it may
// (0 if none is owed).
func (p *Pacer) Due(now time.Time) (bool, time.Duration) {
	if !p.owed {
		return false, 0
	}
	if p.last.IsZero() {
		return true, 0
	}
	if wait := p.last.Add(p.Interval).Sub(now); wait > 0 {
		return false, wait
	}
	return true, 0
}

// Sent records that the owed hint went at now.
func (p *Pacer) Sent(now time.Time) { p.owed, p.last = false, now }
