// Package core is a site's replication core as a pure state machine: the replica of the
// federation state, anti-entropy scheduling, the peers' budgets and the bookkeeping of
// which peers are live, since when, and which were lost. It has no goroutines, locks,
// clock or I/O: every input carries the time it happened at, and every effect comes out
// as data in a Ready batch, in the shape of etcd-io/raft's RawNode.
//
// Inputs are method calls: a peer came up or went down (PeerUp, PeerDown) or advertised
// its heads (Advertised); a peer pushed frames (Admit, Receive, ReceiveSoft); a sync or
// soft session started, stepped or ended (Initiate, Respond, Step, End and their Soft
// twins); this site wrote (Write, WriteSoft) or a client handed it a change (Submit); the
// site's Raft log applied a change (Applied, Forwarded); this replica came to lead or
// stepped down (Lead, StepDown); the clock ticked (Due). Each adds to the pending Ready,
// which Ready returns and clears:
//
//	Mark      changes not yet in the site's Raft log: mark them in the data file first
//	Persist   what the replica stored or rejected: to the data file
//	Unmark    marks the log cleared
//	Soft      soft records held gained or lost: to the data file
//	Replicate changes to append to the Raft log, once the above is durable
//	Push      changes to queue for peers, once the above is durable
//	SoftPush  soft records this site wrote, to queue for peers
//	Events    what happened, for the event log and the process log
//	Wake      anti-entropy may have a session to start: call Due soon
//	Liveness  the set of live peers changed: plan again
//
// A session's reply is returned by Step and, like Push, is sent only after the Ready
// taken after that Step is persisted (persist before send, as etcd does).
//
// Package site is the shell that drives it: it owns the sockets, goroutines, clock and
// disk, holds the core under one lock, and does what each Ready says. The datadriven
// scenarios in testdata run several cores on an in-memory network.
package core
