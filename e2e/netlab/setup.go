package netlab

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// build creates the namespaces, the bridge, one veth pair per node and the nftables
// table, then waits until every bridge port forwards. Each step is one ip or nft process,
// except the per-node step, which runs one process per node concurrently.
func (l *Lab) build() error {
	add := []string{"netns add " + l.hub()}
	for i := range l.addrs {
		add = append(add, "netns add "+l.Namespace(i))
	}
	if err := ipBatch("", add); err != nil {
		return fmt.Errorf("add namespaces: %w", err)
	}
	if err := ipBatch(l.hub(), []string{
		"link set lo up",
		"link add br0 type bridge",
		"link set dev br0 addrgenmode none",
		"link set br0 up",
	}); err != nil {
		return fmt.Errorf("add bridge: %w", err)
	}
	if err := l.buildNodes(); err != nil {
		return err
	}
	var ports []string
	for i := range l.addrs {
		p := port(i)
		ports = append(ports, "link set dev "+p+" addrgenmode none", "link set "+p+" master br0", "link set "+p+" up")
	}
	if err := ipBatch(l.hub(), ports); err != nil {
		return fmt.Errorf("attach ports to bridge: %w", err)
	}
	if err := nft(l.hub(), cutTable); err != nil {
		return fmt.Errorf("add nftables table: %w", err)
	}
	return l.waitForwarding(port)
}

// buildNodes gives each node its end of a veth pair, named eth0, whose peer port(i) is
// created straight in the hub, and its address. One ip process per node, concurrently.
func (l *Lab) buildNodes() error {
	errs := make([]error, len(l.addrs))
	var wg sync.WaitGroup
	for i := range l.addrs {
		wg.Go(func() {
			err := ipBatch(l.Namespace(i), []string{
				"link set lo up",
				"link add eth0 type veth peer name " + port(i) + " netns " + l.hub(),
				"link set dev eth0 addrgenmode none",
				"addr add " + l.addrs[i].String() + "/24 dev eth0",
				"link set eth0 up",
			})
			if err != nil {
				errs[i] = fmt.Errorf("set up node %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// forwardWait bounds how long build waits for the bridge ports to forward; without STP
// they do so as soon as the kernel has seen their carrier, normally at once.
const forwardWait = 10 * time.Second

// waitForwarding polls the hub until every node's bridge port, named by portOf, is in
// the bridge's forwarding state.
func (l *Lab) waitForwarding(portOf func(int) string) error {
	deadline := time.Now().Add(forwardWait)
	for {
		out, err := run("", "ip", "-n", l.hub(), "-d", "-o", "link", "show", "master", "br0")
		if err != nil {
			return fmt.Errorf("wait for bridge ports: %w", err)
		}
		missing := l.notForwarding(out, portOf)
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for bridge ports: not forwarding after %v: %s", forwardWait, strings.Join(missing, ", "))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// notForwarding names the ports that `ip -d -o link show master br0` output does not show
// forwarding with carrier.
func (l *Lab) notForwarding(out string, portOf func(int) string) []string {
	ok := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.Contains(line, "LOWER_UP") || !strings.Contains(line, "bridge_slave state forwarding") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		ok[name] = true
	}
	var missing []string
	for i := range l.addrs {
		if !ok[portOf(i)] {
			missing = append(missing, portOf(i))
		}
	}
	return missing
}

// port is the name of node i's veth end in the hub.
func port(i int) string { return "n" + strconv.Itoa(i) }
