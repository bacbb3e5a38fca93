package crdt

import "math"

// A rateless invertible Bloom lookup table (Yang, Gilad, Alizadeh: "Practical Rateless
// Set Reconciliation", SIGCOMM 2024). Each side maps its set of 64-bit keys onto an
// endless sequence of coded symbols; symbol i holds each key with probability about
// 1/(1+i/2). The receiver subtracts its own symbols and peels: after about 1.35 d
// symbols it knows the d keys in the symmetric difference, whatever the set sizes.

// codedSymbol is the sum of the keys mapped to one index.
type codedSymbol struct {
	keySum  uint64 // XOR of keys
	hashSum uint64 // XOR of checksum(key)
	count   int64  // number of keys (sender minus receiver after subtraction)
}

func (c *codedSymbol) add(key, hash uint64, dir int64) {
	c.keySum ^= key
	c.hashSum ^= hash
	c.count += dir
}

func (c *codedSymbol) empty() bool { return c.keySum == 0 && c.hashSum == 0 && c.count == 0 }

// pure reports whether the symbol holds exactly one key, on either side.
func (c *codedSymbol) pure() bool {
	return (c.count == 1 || c.count == -1) && checksum(c.keySum) == c.hashSum
}

// checksum is a fixed 64-bit mixer (splitmix64's finalizer); keys are already salted hashes.
func checksum(k uint64) uint64 {
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	return k ^ k>>31
}

// mapping walks the indexes one key is added to: 0, then random gaps that grow with the index.
type mapping struct {
	prng uint64
	next uint64 // the next index this key maps to
}

func newMapping(key uint64) mapping { return mapping{prng: checksum(key), next: 0} }

func (m *mapping) advance() {
	r := m.prng * 0xda942042e4dd58b5
	m.prng = r
	gap := math.Ceil((float64(m.next) + 1.5) * ((1<<32)/math.Sqrt(float64(r)+1) - 1))
	if gap < 1 || gap > 1<<40 {
		gap = 1 << 40 // keeps the walk finite for extreme prng values
	}
	m.next += uint64(gap)
}

// ribltEncoder produces the coded symbols of a fixed set of keys, batch after batch.
type ribltEncoder struct {
	keys  []uint64
	maps  []mapping
	count int // symbols produced so far
}

func newRIBLTEncoder(keys []uint64) *ribltEncoder {
	e := &ribltEncoder{keys: keys, maps: make([]mapping, len(keys))}
	for i, k := range keys {
		e.maps[i] = newMapping(k)
	}
	return e
}

// next returns the following n coded symbols.
func (e *ribltEncoder) next(n int) []codedSymbol {
	start, end := uint64(e.count), uint64(e.count+n)
	out := make([]codedSymbol, n)
	for i, k := range e.keys {
		m := &e.maps[i]
		h := checksum(k)
		for m.next < end {
			out[m.next-start].add(k, h, 1)
			m.advance()
		}
	}
	e.count += n
	return out
}

// ribltDecoder subtracts the local set from the remote symbols and peels the difference.
type ribltDecoder struct {
	local   *ribltEncoder
	symbols []codedSymbol // remote minus local, minus what has been peeled
	peeled  []peeledKey
	remote  []uint64 // keys only the remote side has
	mine    []uint64 // keys only the local side has
}

type peeledKey struct {
	key uint64
	dir int64
	m   mapping
}

func newRIBLTDecoder(localKeys []uint64) *ribltDecoder {
	return &ribltDecoder{local: newRIBLTEncoder(localKeys)}
}

// add takes the next batch of remote symbols and peels what it can. It reports whether
// the difference is fully decoded.
func (d *ribltDecoder) add(remote []codedSymbol) bool {
	start := uint64(len(d.symbols))
	local := d.local.next(len(remote))
	for i := range remote {
		s := remote[i]
		s.keySum ^= local[i].keySum
		s.hashSum ^= local[i].hashSum
		s.count -= local[i].count
		d.symbols = append(d.symbols, s)
	}
	end := uint64(len(d.symbols))
	// Keys peeled earlier also sit in the new symbols: take them out.
	for i := range d.peeled {
		p := &d.peeled[i]
		h := checksum(p.key)
		for p.m.next < end {
			if p.m.next >= start {
				d.symbols[p.m.next].add(p.key, h, -p.dir)
			}
			p.m.advance()
		}
	}
	var queue []int
	for i := range d.symbols {
		if d.symbols[i].pure() {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		s := d.symbols[i]
		if !s.pure() {
			continue
		}
		p := peeledKey{key: s.keySum, dir: s.count, m: newMapping(s.keySum)}
		h := checksum(p.key)
		for p.m.next < end {
			j := p.m.next
			d.symbols[j].add(p.key, h, -p.dir)
			if d.symbols[j].pure() {
				queue = append(queue, int(j))
			}
			p.m.advance()
		}
		d.peeled = append(d.peeled, p)
		if p.dir > 0 {
			d.remote = append(d.remote, p.key)
		} else {
			d.mine = append(d.mine, p.key)
		}
	}
	return len(d.symbols) > 0 && d.symbols[0].empty()
}
