// Package netlab builds real network partitions for multi-process tests of Atoll.
//
// A Lab is a set of Linux network namespaces, one per node (site), each joined by a veth
// pair to a Linux bridge inside a hub namespace that the lab also creates:
//
//	<prefix>-0   eth0 10.231.0.1/24 ──veth── n0 ┐
//	<prefix>-1   eth0 10.231.0.2/24 ──veth── n1 ├─ br0 in <prefix>-hub
//	<prefix>-2   eth0 10.231.0.3/24 ──veth── n2 ┘
//
// Nodes have IPv4 only: their eth0 has no IPv6 link-local address (addrgenmode none), so
// nothing but IPv4 and ARP ever crosses the bridge.
//
// Every interface, address and rule lives inside the lab's own namespaces: nothing in the
// root namespace (interfaces, routes, firewall) is read or changed, so labs with different
// prefixes can even run side by side with the same addresses. Tests start site processes
// inside a node with Lab.Command, which wraps `ip netns exec`.
//
// # Cuts
//
// Cut, Partition and Heal drive one nftables table in the hub, `table bridge atoll_lab`,
// whose forward chain drops every IPv4 packet whose (source, destination) pair is in the
// set `cuts`. A cut adds both directions of a pair to the set; Heal flushes it. The rule is
// stateless, so established TCP connections stop delivering too, and the packets vanish
// in the middle of the path like on a real partition: senders see no error, only silence
// until their own timeouts fire. ARP is left alone, so neighbour entries stay valid and a
// dial times out instead of failing fast with "no route to host".
//
// Drops in the nodes' own output hooks would not do: the kernel then returns EPERM to the
// sender (a UDP sendto fails at once), which no real partition does. Drops in the nodes'
// input hooks would work but take one nft process per node touched instead of one per
// change, and would sit in the namespace where the site under test runs.
//
// # Impairment
//
// Impair gives every link a WAN's loss, delay and jitter. Loss is a second rule in the
// same forward chain, `numgen random mod 10000 < n drop`: real kernel drops, per packet and
// direction. This kernel has no netem qdisc (tc fails with "Specified qdisc kind is
// unknown"), no fq qdisc for timestamp-based delay, and no nftables queue, so delay comes
// from a relay in the hub (relay.go): the first delayed Impair takes each node's port off
// the bridge and joins it, through raw packet sockets, to a new veth whose other end is the
// bridge port; frames a node sends wait there Delay±Jitter, then cross the bridge with its
// cuts and loss. The sites' kernels, sockets and TCP stacks are the real ones on both ends.
//
// The package shells out to `ip` and `nft` (iproute2 and nftables; hack/install-netlab.sh
// installs them) and needs root. Available reports whether all of that is present and
// working, so tests can skip with the reason where it is not.
package netlab
