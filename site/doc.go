// Package site is the Atoll site daemon: it owns every socket, goroutine, clock and disk
// write, and drives the pure cores (crdt, peering) from them.
//
// A Site holds one crdt.Replica, persisted in one bbolt file (site/store), and talks to its
// peers through site/transport: memberlist's probes and gossip, and three stream channels
// of its own over mutually authenticated TLS 1.3:
//
//	'P' push   one long-lived stream per peer carrying new changes, one frame each
//	'S' sync   one crdt sync session per stream
//	'M'        memberlist's own streams (push-pull of the member list)
//
// A change is acknowledged (to the local API, or forwarded to peers) only after it is in
// the data file. Goroutines: see docs/ARCHITECTURE.md.
//
// Two HTTP servers serve the API: the unix socket in the data dir (api.go), whose caller
// is trusted, and the TCP server of `http:` (http.go), where every route but health and
// the dashboard's files needs a charter identity. authn.go finds it (a bearer token of
// site/token, the dashboard's cookie, a TLS client certificate, or a session of an
// OpenID Connect sign-in that oidc.go opened and signins.go holds), authz.go decides in
// one pure function, and scope.go filters what an operator reads to its namespaces.
package site
