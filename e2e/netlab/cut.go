package netlab

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// cutTable is the hub's nftables table: bridged IPv4 packets whose (source, destination)
// pair is in the set cuts are dropped; everything else, ARP included, passes.
const cutTable = `table bridge atoll_lab {
	set cuts {
		type ipv4_addr . ipv4_addr
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr . ip daddr @cuts drop
	}
}
`

// errClosed is returned by changes to a closed lab.
var errClosed = errors.New("lab is closed")

// Cut drops all traffic between nodes i and j, both directions, TCP, UDP and anything
// else over IPv4, established connections included. Cutting a pair already cut does
// nothing.
func (l *Lab) Cut(i, j int) error {
	if err := l.checkNode(i); err != nil {
		return fmt.Errorf("netlab: cut %d-%d: %w", i, j, err)
	}
	if err := l.checkNode(j); err != nil {
		return fmt.Errorf("netlab: cut %d-%d: %w", i, j, err)
	}
	if i == j {
		return fmt.Errorf("netlab: cut %d-%d: a node cannot be cut from itself", i, j)
	}
	if err := l.addCuts([][2]int{{i, j}}); err != nil {
		return fmt.Errorf("netlab: cut %d-%d: %w", i, j, err)
	}
	return nil
}

// Partition cuts every pair of nodes that are in different groups, in one atomic nftables
// transaction. Nodes in no group keep their links; cuts made before stay (call Heal first
// to replace a partition with another). A node may appear in at most one group.
func (l *Lab) Partition(groups ...[]int) error {
	group := map[int]int{}
	for g, nodes := range groups {
		for _, i := range nodes {
			if err := l.checkNode(i); err != nil {
				return fmt.Errorf("netlab: partition %v: %w", groups, err)
			}
			if h, ok := group[i]; ok {
				return fmt.Errorf("netlab: partition %v: node %d in groups %d and %d", groups, i, h, g)
			}
			group[i] = g
		}
	}
	var pairs [][2]int
	for i, g := range group {
		for j, h := range group {
			if i < j && g != h {
				pairs = append(pairs, [2]int{i, j})
			}
		}
	}
	if err := l.addCuts(pairs); err != nil {
		return fmt.Errorf("netlab: partition %v: %w", groups, err)
	}
	return nil
}

// Heal removes all cuts.
func (l *Lab) Heal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("netlab: heal: %w", errClosed)
	}
	if len(l.cuts) == 0 {
		return nil
	}
	if err := nft(l.hub(), "flush set bridge atoll_lab cuts\n"); err != nil {
		return fmt.Errorf("netlab: heal: %w", err)
	}
	clear(l.cuts)
	return nil
}

// addCuts adds both directions of every pair not yet cut to the hub's set, in one nft
// transaction, and records them.
func (l *Lab) addCuts(pairs [][2]int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	var fresh [][2]int
	for _, p := range pairs {
		p = [2]int{min(p[0], p[1]), max(p[0], p[1])}
		if !l.cuts[p] && !slices.Contains(fresh, p) {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	var elems []string
	for _, p := range fresh {
		a, b := l.addrs[p[0]], l.addrs[p[1]]
		elems = append(elems, a.String()+" . "+b.String(), b.String()+" . "+a.String())
	}
	if err := nft(l.hub(), "add element bridge atoll_lab cuts { "+strings.Join(elems, ", ")+" }\n"); err != nil {
		return err
	}
	for _, p := range fresh {
		l.cuts[p] = true
	}
	return nil
}

func (l *Lab) checkNode(i int) error {
	if i < 0 || i >= len(l.addrs) {
		return fmt.Errorf("node %d out of range [0, %d)", i, len(l.addrs))
	}
	return nil
}
