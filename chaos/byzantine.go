package chaos

import (
	"fmt"

	"atoll/crdt"
	"atoll/peering"
)

// attack makes a Byzantine node send one kind of bad traffic to a random correct peer.
// Changes that can never be valid are recorded, so the checker can look for them.
func (s *sim) attack(n *node) {
	victims := s.correct()
	to := victims[s.rng.IntN(len(victims))].idx
	send := func(b []byte) { s.net.send(message{from: n.idx, to: to, kind: msgPush, data: b}, s.tick) }
	own := func(field, value string) []crdt.Op {
		return []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindSite, Key: n.name, Field: field, Value: []byte(value)}}
	}
	sign := func(c *crdt.Change) *crdt.Envelope {
		env, err := crdt.Sign(c, nil, n.signer)
		if err != nil {
			panic(err)
		}
		return env
	}
	switch r := s.rng.IntN(9); r {
	case 0: // forged: a correct site's key as author, or a flipped signature bit
		header := append([]byte(nil), sign(n.rep.Prepare(own("version", "forged"), nil)).Header...)
		if s.rng.IntN(2) == 0 {
			victim := victims[s.rng.IntN(len(victims))]
			pub := victim.signer.Public()
			copy(header[1:33], pub[:])
		} else {
			header[len(header)-1-s.rng.IntN(64)] ^= 1 << s.rng.IntN(8)
		}
		b := (&crdt.Envelope{Header: header}).EncodeHeaderOnly()
		if e, err := crdt.DecodeEnvelope(b); err == nil {
			s.invalid[e.ID] = "forged"
		}
		send(b)
	case 1: // outside its scope: another site's cluster, a workload
		victim := s.nodes[s.rng.IntN(len(s.nodes))]
		ops := []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey(victim.name, "c0"), Field: "health", Value: []byte("down")}}
		if victim == n || s.rng.IntN(2) == 0 {
			ops = []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "shop/w0", Field: "replicas", Value: []byte("0")}}
		}
		env := sign(n.rep.Prepare(ops, nil))
		s.invalid[env.ID] = "out of scope"
		send(env.Encode())
	case 2: // equivocation: two different valid changes on the same heads, to two peers
		if s.healing {
			return
		}
		c1, c2 := n.rep.Prepare(own("version", "a"), nil), n.rep.Prepare(own("version", "b"), nil)
		send(sign(c1).Encode())
		to = victims[s.rng.IntN(len(victims))].idx
		send(sign(c2).Encode())
	case 3: // replay of something old
		var old [][]byte
		n.rep.Changes(func(_ crdt.Hash, env []byte) bool { old = append(old, env); return len(old) < 50 })
		send(old[s.rng.IntN(len(old))])
	case 4: // malformed: random bytes, or a truncated change
		if s.rng.IntN(2) == 0 {
			b := make([]byte, 1+s.rng.IntN(300))
			for i := range b {
				b[i] = byte(s.rng.Uint32())
			}
			send(b)
		} else {
			b := sign(n.rep.Prepare(own("version", "t"), nil)).Encode()
			send(b[:s.rng.IntN(len(b))])
		}
	case 5: // oversized value
		big := make([]byte, crdt.MaxValueBytes+1)
		c := n.rep.Prepare(own("version", ""), nil)
		c.Ops[0].Value = big
		if env, err := crdt.Sign(c, nil, n.signer); err == nil {
			send(env.Encode())
		} else {
			// Sign refuses it; hand-build the bytes a hostile peer would send anyway.
			send(append([]byte{0xff, 0xff, 0x10}, big...))
		}
	case 6: // a flood of validly signed changes on unknown dependencies
		for i := 0; i < 40; i++ {
			var dep crdt.Hash
			for j := range dep {
				dep[j] = byte(s.rng.Uint32())
			}
			env := sign(&crdt.Change{Lamport: 2 + uint64(s.rng.IntN(1000)), Deps: []crdt.Hash{dep}, Ops: own("version", fmt.Sprint(i))})
			s.invalid[env.ID] = "unknown dependencies"
			send(env.Encode())
		}
	case 7: // a sync session answered with garbage
		s.nextSID++
		b := make([]byte, 1+s.rng.IntN(64))
		for i := range b {
			b[i] = byte(s.rng.Uint32())
		}
		b[0] = byte(1 + s.rng.IntN(4))
		s.net.send(message{from: n.idx, to: to, kind: msgSyncReq, sid: s.nextSID, data: b}, s.tick)
	case 8: // false hints: heads nobody holds and a huge change count (a session it pays
		// for), or a malformed hint (a strike)
		var head [32]byte
		for j := range head {
			head[j] = byte(s.rng.Uint32())
		}
		b := peering.EncodeHint(peering.Meta{Changes: s.rng.Uint64(), Heads: [][32]byte{head}})
		if s.rng.IntN(2) == 0 {
			b = b[:1+s.rng.IntN(len(b)-1)]
		}
		s.net.send(message{from: n.idx, to: to, kind: msgHint, data: b}, s.tick)
	}
}
