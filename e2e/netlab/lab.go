package netlab

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"sync"
)

// MaxNodes is the largest lab Create builds: node addresses are 10.231.0.1 to
// 10.231.0.250 in one /24.
const MaxNodes = 250

// Lab is a set of network namespaces, one per node, joined by a bridge in a hub namespace.
// Its methods are safe for concurrent use.
type Lab struct {
	prefix string
	addrs  []netip.Addr // node i's address on its eth0

	mu     sync.Mutex
	cuts   map[[2]int]bool // pairs {i, j} with i < j whose traffic the hub drops
	relay  *relay          // set by the first Impair with a delay
	closed bool
}

// Create makes n node namespaces named <prefix>-<i> (i from 0) plus <prefix>-hub, after
// deleting any leftover namespaces of a lab with the same prefix (from a crashed earlier
// run). Node i has address 10.231.0.<i+1>/24 on eth0, and lo up. On error nothing of the
// lab is left behind.
func Create(prefix string, n int) (*Lab, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxNodes {
		return nil, fmt.Errorf("netlab: create %q: %d nodes, want 1 to %d", prefix, n, MaxNodes)
	}
	if err := deleteNamespaces(prefix); err != nil {
		return nil, fmt.Errorf("netlab: create %q: delete leftovers: %w", prefix, err)
	}
	l := &Lab{prefix: prefix, addrs: make([]netip.Addr, n), cuts: map[[2]int]bool{}}
	for i := range n {
		l.addrs[i] = netip.AddrFrom4([4]byte{10, 231, 0, byte(i + 1)})
	}
	if err := l.build(); err != nil {
		if cerr := deleteNamespaces(prefix); cerr != nil {
			err = fmt.Errorf("%w (cleanup: %v)", err, cerr)
		}
		return nil, fmt.Errorf("netlab: create %q: %w", prefix, err)
	}
	return l, nil
}

// Len is the number of nodes.
func (l *Lab) Len() int { return len(l.addrs) }

// Addr is node i's address. It panics if i is not a node of the lab.
func (l *Lab) Addr(i int) netip.Addr {
	l.mustNode(i)
	return l.addrs[i]
}

// Namespace is the name of node i's network namespace. It panics if i is not a node of
// the lab.
func (l *Lab) Namespace(i int) string {
	l.mustNode(i)
	return l.prefix + "-" + strconv.Itoa(i)
}

// Command returns a command that runs name with args inside node i's namespace, through
// `ip netns exec`, which execs name in place: the command's process is name's process,
// and ctx ending kills it. It panics if i is not a node of the lab.
func (l *Lab) Command(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.Namespace(i), name}, args...)...)
}

// Close deletes every namespace of the lab; their veths and the bridge go with them.
// Processes still running inside a node keep its namespace alive, detached and unnamed,
// until they exit, so stop them first. Close is idempotent.
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if l.relay != nil {
		l.relay.close()
		l.relay = nil
	}
	if err := deleteNamespaces(l.prefix); err != nil {
		return fmt.Errorf("netlab: close %q: %w", l.prefix, err)
	}
	l.closed = true
	return nil
}

func (l *Lab) hub() string { return l.prefix + "-hub" }

func (l *Lab) mustNode(i int) {
	if i < 0 || i >= len(l.addrs) {
		panic(fmt.Sprintf("netlab: node %d out of range [0, %d) in lab %q", i, len(l.addrs), l.prefix))
	}
}
