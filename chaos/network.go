package chaos

import "math/rand/v2"

type msgKind uint8

const (
	msgPush     msgKind = iota // an envelope
	msgSyncReq                 // to a session's responder
	msgSyncResp                // to a session's initiator
	msgSoftPush                // a soft record
	msgSoftReq                 // frames to a soft session's responder
	msgSoftResp                // frames to a soft session's initiator
	msgHint                    // a hint frame: the sender's change count and heads
)

type message struct {
	from, to int
	kind     msgKind
	sid      uint64 // session id
	data     []byte
	frames   [][]byte // a soft session's frames of one turn, in order
	turn     int      // which turn of its soft session
	at       int      // tick of delivery
}

// faults are the network's misbehaviour, per phase.
type faults struct {
	drop, duplicate float64 // probability per message
	maxDelay        int     // ticks; delays also reorder
}

// network holds messages in flight and which nodes can reach each other.
type network struct {
	rng      *rand.Rand
	inflight []message
	group    []int // partition group per node; nodes talk only within a group
	f        faults
	sent     int
	bytes    int
}

func newNetwork(rng *rand.Rand, n int) *network {
	return &network{rng: rng, group: make([]int, n)}
}

func (n *network) connected(a, b int) bool { return n.group[a] == n.group[b] }

// send queues m, subject to partitions, loss, duplication and delay.
func (n *network) send(m message, now int) {
	n.sent++
	n.bytes += len(m.data)
	for _, f := range m.frames {
		n.bytes += len(f)
	}
	if !n.connected(m.from, m.to) || n.rng.Float64() < n.f.drop {
		return
	}
	copies := 1
	if n.rng.Float64() < n.f.duplicate {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		m.at = now + 1
		if n.f.maxDelay > 0 {
			m.at += n.rng.IntN(n.f.maxDelay + 1)
		}
		n.inflight = append(n.inflight, m)
	}
}

// due removes and returns the messages deliverable at tick now, in random order.
// A message whose link was cut while in flight is lost.
func (n *network) due(now int) []message {
	var out []message
	keep := n.inflight[:0]
	for _, m := range n.inflight {
		switch {
		case m.at > now:
			keep = append(keep, m)
		case n.connected(m.from, m.to):
			out = append(out, m)
		}
	}
	n.inflight = keep
	n.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// partition splits the nodes into k random groups.
func (n *network) partition(k int) {
	for i := range n.group {
		n.group[i] = n.rng.IntN(k)
	}
}

// isolate cuts one node off from everyone.
func (n *network) isolate(node int) { n.group[node] = -1 - node }

func (n *network) heal() {
	for i := range n.group {
		n.group[i] = 0
	}
}
