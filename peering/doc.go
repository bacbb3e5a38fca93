// Package peering is the protocol half of how sites exchange the federation state. It holds
// no sockets, goroutines or clocks: package site drives it and does the I/O.
//
// Dissemination has four layers:
//
//   - Membership and failure detection are hashicorp/memberlist's (SWIM), run by site over
//     its own authenticated transport.
//   - Hints: each site tells every live peer its Meta (how many changes it holds and up to
//     MaxMetaHeads of its DAG heads) in a hint frame on its push stream to that peer
//     (EncodeHint), paced by a Pacer: at most one per interval, always the latest. A hint
//     frame starts with HintTag (0x00), which no envelope starts with, and is at most
//     MaxHintBytes. The acceptor of a push stream writes PushVersionHints first; the dialer
//     sends hints only once it has read it, so a site of an earlier release, which writes
//     nothing, gets envelopes only. Such sites, and observers, learn heads from memberlist
//     node metadata instead, which a site publishes only while one of them is live
//     (docs/adr/0015-hints-on-push-streams.md).
//   - Eager push: a site that writes a change sends it at once to every live peer, and a
//     site that receives a change new to it forwards it to Fanout other live peers (Pick).
//     A write therefore reaches a connected site in one or two one-way delays.
//   - Anti-entropy: AntiEntropy decides when to run a crdt sync session with a peer: as
//     soon as the peer advertises (hint or metadata) a head this site does not hold and
//     it stays unknown for a grace period (a push that was lost or cut by a partition),
//     and otherwise with one random peer every Interval as a safety net.
//
// Budget bounds what one peer may make this site do (bytes and messages per second) and
// counts its invalid changes (and malformed hints); a peer that exceeds either is cut off
// for a while, so a hostile site cannot stall the others. Hint frames go through the same
// byte budget as envelopes.
//
// Frames on every stream are length-prefixed (WriteFrame, ReadFrame) with a size cap.
// Time is an argument (now time.Time), never read here.
package peering
