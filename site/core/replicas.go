package core

import "atoll/crdt"

// A site may run as several replicas under Raft (package site, replicas.go); one leads
// and speaks for the site, and the others learn changes only from the log. The leader
// stores changes before its log carries them: its own writes just before, and changes
// from peers well before (they are appended without waiting). If it stops in between and
// leads again, its followers would never get those, and every later change built on them
// would wait for them forever. So the core marks them (Ready.Mark, written to the data
// file before the changes) until the log brings them back (Applied, Ready.Unmark), and
// queues what is still marked whenever this replica comes to lead (Lead,
// Ready.Replicate). A follower forwards what it still has marked to the leader
// (Marked), which receives it as from a peer (Forwarded).

// origin is where stored changes came from, for the marks.
type origin int

const (
	fromPeer  origin = iota // a peer, a client or a follower: marked, and queued for the log when leading
	fromWrite               // this replica's own write, which the shell appends to the log itself: marked
	fromLog                 // the site's Raft log: not marked, and the mark cleared
)

// mark marks stored changes as not in the log yet, and queues those from peers for the
// log when leading. Without replicas it does nothing.
func (c *Core) mark(stored []*crdt.Envelope, from origin) {
	if !c.cfg.Replicas || from == fromLog {
		return
	}
	for _, env := range stored {
		if !c.marks[env.ID] {
			c.marks[env.ID] = true
			c.ready.Mark = append(c.ready.Mark, env.ID)
		}
		if from == fromPeer && c.leading {
			c.ready.Replicate = append(c.ready.Replicate, env.Encode())
		}
	}
}

// Applied takes a change the site's Raft log applied: stored if new, and its mark
// cleared.
func (c *Core) Applied(b []byte) crdt.Result {
	res := c.rep.Receive(b)
	c.store(res, fromLog)
	c.ready.Hint = c.ready.Hint || len(res.Stored) > 0
	if env, err := crdt.DecodeEnvelope(b); err == nil && c.marks[env.ID] {
		delete(c.marks, env.ID)
		c.ready.Unmark = append(c.ready.Unmark, env.ID)
	}
	return res
}

// Forwarded takes a change a follower still had marked, at the leader: stored if new,
// and appended to the log even if already held (the log is what clears the follower's
// mark).
func (c *Core) Forwarded(b []byte) crdt.Result {
	res := c.rep.Receive(b)
	c.store(res, fromPeer)
	c.ready.Hint = c.ready.Hint || len(res.Stored) > 0
	if env, err := crdt.DecodeEnvelope(b); err == nil && len(res.Stored) == 0 && c.leading && c.rep.Has(env.ID) {
		c.ready.Replicate = append(c.ready.Replicate, b)
	}
	return res
}

// Marked returns up to n of the changes this replica holds marked as not in the log.
func (c *Core) Marked(n int) [][]byte {
	var out [][]byte
	for id := range c.marks {
		if len(out) == n {
			break
		}
		if b, ok := c.rep.Envelope(id); ok {
			out = append(out, b)
		}
	}
	return out
}

// MarkedLen is how many changes are marked.
func (c *Core) MarkedLen() int { return len(c.marks) }

// requeue queues every marked change for the log, on coming to lead; a mark whose change
// was never stored (the process stopped in between) is cleared.
func (c *Core) requeue() {
	for id := range c.marks {
		b, ok := c.rep.Envelope(id)
		if !ok {
			delete(c.marks, id)
			c.ready.Unmark = append(c.ready.Unmark, id)
			continue
		}
		c.ready.Replicate = append(c.ready.Replicate, b)
	}
	if n := len(c.ready.Replicate); n > 0 {
		c.event(Event{Log: "appending changes stored before the log carried them", Attrs: []any{"changes", n}})
	}
}

// StepDown records that this replica no longer leads: what peers send is marked but no
// longer queued for the log.
func (c *Core) StepDown() { c.leading = false }
