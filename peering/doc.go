// Package peering is the protocol half of how sites exchange the federation state. It holds
// no sockets, goroutines or clocks: package site drives it and does the I/O.
//
// Dissemination has three layers:
//
//   - Membership and failure detection are hashicorp/memberlist's (SWIM), run by site over
//     its own authenticated transport. Each site advertises a Meta in its memberlist node
//     metadata: how many changes it holds and up to MaxMetaHeads of its DAG heads.
//   - Eager push: a site that writes a change sends it at once to every live peer, and a
//     site that receives a change new to it forwards it to Fanout other live peers (Pick).
//     A write therefore reaches a connected site in one or two one-way delays.
//   - Anti-entropy: AntiEntropy decides when to run a crdt sync session with a
//     peer: as soon as the peer advertises a head this site does not hold and it stays
//     unknown for a grace period (a push that was lost or cut by a partition), and
//     otherwise with one random peer every Interval as a safety net.
//
// Budget bounds what one peer may make this site do (bytes and messages per second) and
// counts its invalid changes; a peer that exceeds either is cut off for a while, so a
// hostile site cannot stall the others.
//
// Frames on every stream are length-prefixed (WriteFrame, ReadFrame) with a size cap.
// Time is an argument (now time.Time), never read here.
package peering
