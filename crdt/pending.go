package crdt

import "slices"

// pending holds changes whose dependencies have not all arrived, within fixed bounds:
// when full, the oldest entry is dropped (anti-entropy brings it again later), so a flood
// of changes with unknown dependencies costs at most maxCount entries and maxBytes bytes.
type pending struct {
	maxCount, maxBytes int
	bytes              int
	byID               map[Hash]*Envelope
	waiting            map[Hash][]Hash // missing dependency -> ids waiting for it
	fifo               []Hash
}

func newPending(maxCount, maxBytes int) *pending {
	return &pending{maxCount: maxCount, maxBytes: maxBytes, byID: map[Hash]*Envelope{}, waiting: map[Hash][]Hash{}}
}

// add buffers env, waiting for each of missing. It reports whether env was kept.
func (p *pending) add(env *Envelope, missing []Hash) bool {
	size := env.Size()
	if size > p.maxBytes || p.maxCount == 0 {
		return false
	}
	for len(p.byID) >= p.maxCount || p.bytes+size > p.maxBytes {
		p.evictOldest()
	}
	p.byID[env.ID] = env
	p.bytes += size
	p.fifo = append(p.fifo, env.ID)
	for _, d := range missing {
		p.waiting[d] = append(p.waiting[d], env.ID)
	}
	return true
}

func (p *pending) evictOldest() {
	for len(p.fifo) > 0 {
		id := p.fifo[0]
		p.fifo = p.fifo[1:]
		if env, ok := p.byID[id]; ok {
			p.remove(env)
			return
		}
	}
}

// remove drops env and its entries in the waiting index.
func (p *pending) remove(env *Envelope) {
	delete(p.byID, env.ID)
	p.bytes -= env.Size()
	for _, d := range env.Change.Deps {
		w := p.waiting[d]
		for i, id := range w {
			if id == env.ID {
				w = append(w[:i], w[i+1:]...)
				break
			}
		}
		if len(w) == 0 {
			delete(p.waiting, d)
		} else {
			p.waiting[d] = w
		}
	}
	// Released entries leave their ids in the queue; compact it before it outgrows the buffer.
	if len(p.fifo) > max(2*len(p.byID), p.maxCount) {
		p.fifo = slices.DeleteFunc(p.fifo, func(id Hash) bool { _, ok := p.byID[id]; return !ok })
	}
}

// attach gives a buffered change the bodies it arrived without, keeping the byte bound.
func (p *pending) attach(env *Envelope, bodies [][]byte) {
	before := env.Size()
	env.Bodies = bodies
	p.bytes += env.Size() - before
	for p.bytes > p.maxBytes && len(p.byID) > 0 {
		p.evictOldest()
	}
}

// release removes and returns the entries that were waiting for id.
func (p *pending) release(id Hash) []*Envelope {
	ids := p.waiting[id]
	if len(ids) == 0 {
		return nil
	}
	delete(p.waiting, id)
	out := make([]*Envelope, 0, len(ids))
	for _, w := range ids {
		if env, ok := p.byID[w]; ok {
			out = append(out, env)
		}
	}
	return out
}

// missing returns up to n dependencies that pending changes wait for.
func (p *pending) missing(n int) []Hash {
	out := make([]Hash, 0, len(p.waiting))
	for d := range p.waiting {
		if _, buffered := p.byID[d]; !buffered {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Hash) int { return compareHash(&a, &b) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}
