// Package gossip will carry the federation state between sites: membership and failure
// detection with hashicorp/memberlist, eager push of new changes and anti-entropy sessions
// driven by crdt's reconciliation, over mutually authenticated TLS 1.3.
//
// Not built yet: it is issue 3. Until then, package chaos exercises the same push and
// anti-entropy protocol over a simulated network.
package gossip
