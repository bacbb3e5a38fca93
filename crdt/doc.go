// Package crdt is Atoll's replicated federation state: a Byzantine-tolerant CRDT made of
// a hash-linked DAG of Ed25519-signed changes (Kleppmann, "Making CRDTs Byzantine Fault
// Tolerant", 2022). It is a pure core: no network, files, clock, randomness or goroutines.
//
// A Change is {author, deps, Lamport time, ops, signatures}; its id is the SHA-256 of its
// canonical encoding (encoding.go). Each op sets, deletes or seals one field of one typed
// object (charter, site, cluster, workload, status; schema.go), or removes an object.
//
// Validity depends only on the change and its causal past, so every correct replica
// decides alike whatever the order of arrival (validate.go):
//   - structure and size limits, canonical encoding, good signatures;
//   - Lamport time exactly one more than its dependencies' largest;
//   - the author's role in the charter of its causal past (the merge of the charters its
//     dependencies saw): a site writes only its own site, clusters and status; an
//     operator only workloads in granted namespaces; the charter only with m-of-n admins;
//   - an operator's header bytes, charged along its causal past (concurrent branches by
//     maximum), within its quota in that charter (quota.go).
//
// Invalid changes are rejected with a reason and never stored; changes whose dependencies
// are missing wait in a bounded buffer (pending.go).
//
// The materialized State (state.go) is a pure function of the set of valid changes:
// field-level last-writer-wins registers ordered by (Lamport, change id, op index),
// explicit field tombstones and object removes. Its Digest hashes every register.
//
// Residency: a workload bounded to jurisdictions carries its body fields as sealed ops
// (only the body hash is in the header). Bodies travel beside the header in an Envelope,
// and a Replica keeps them only when its own jurisdiction is inside the bound and hands
// them only to peers inside it (Replica.EnvelopeFor).
//
// A sync session (session.go) is a state machine over encoded messages: heads first,
// then a rateless IBLT (riblt.go) when both sides have changes the other lacks.
//
// A Replica is driven from outside: Receive or Write a change, persist Result.Stored,
// send what a Session's Step returns. The site daemon and the chaos simulator do so.
package crdt
