package chaos

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"atoll/crdt"
)

// The soft-state oracle. It follows every record that reached a correct replica (pushed
// to it, carried in a session frame it read, or written by it) signed by its writer's key
// in the charter that replica had then, which is what a replica may accept, and which
// correct replicas keep it. A replica keeps what it accepted across restarts, except the
// records signed by a key its charter no longer lists: those wait among its orphans in
// memory only (crdt/softstate.go), so a crash loses them.
//
// From the final charter and DAG state every correct replica agrees on, the oracle then
// decides on its own what each must hold: for each object, the record with the highest
// (Seq, SoftID) among those kept somewhere and signed by its writer's key in the charter
// in force; a status only while its workload is live and its cluster known (a cluster
// record of the writer held, or the cluster live in the DAG). Nothing else may be held:
// no record of another site's object, none signed by a key rotated out, none of a site
// outside the charter.

// reached is a record that reached a correct replica.
type reached struct {
	raw    []byte
	writer string
	key    crdt.PubKey  // the writer's key it was accepted with
	kept   map[int]bool // the correct nodes that keep it
}

// reach notes that a record reached correct node n, if n's charter lets it accept it.
func (s *sim) reach(n *node, raw []byte) {
	id := crdt.SoftID(raw)
	r, ok := s.reached[id]
	if ok && r.kept[n.idx] {
		return
	}
	if !ok {
		rec, err := crdt.DecodeSoft(raw)
		if err != nil {
			return
		}
		site, ok := n.rep.Charter().SiteByName(rec.Writer())
		if !ok || !crdt.VerifySoft(s.genesisID, rec, site.Key) {
			return
		}
		r = &reached{raw: raw, writer: rec.Writer(), key: site.Key, kept: map[int]bool{}}
		s.reached[id] = r
	}
	if site, ok := n.rep.Charter().SiteByName(r.writer); ok && site.Key == r.key {
		r.kept[n.idx] = true
	}
}

// crashSoft forgets, at a node that crashes, the records signed by a key its charter no
// longer lists.
func (s *sim) crashSoft(n *node) {
	ch := n.rep.Charter()
	for _, r := range s.reached {
		if site, ok := ch.SiteByName(r.writer); r.kept[n.idx] && (!ok || site.Key != r.key) {
			delete(r.kept, n.idx)
		}
	}
}

// reachFrame notes the records of a soft session frame read by correct node n. It parses
// the frame's wire format (softsync.go: 'R', a count, then length-prefixed records)
// itself, rather than trusting the replica's account of it.
func (s *sim) reachFrame(n *node, f []byte) {
	if len(f) == 0 || f[0] != 'R' {
		return
	}
	b := f[1:]
	count, k := binary.Uvarint(b)
	if k <= 0 {
		return
	}
	b = b[k:]
	for range count {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return
		}
		s.reach(n, b[k:k+int(l)])
		b = b[k+int(l):]
	}
}

type softObj struct {
	kind crdt.Kind
	key  string
}

// softOracle returns the record each correct replica must hold, by object.
func (s *sim) softOracle(ref *crdt.Replica) map[softObj][]byte {
	ch, genesis := ref.Charter(), ref.Genesis()
	type best struct {
		seq uint64
		id  crdt.Hash
		raw []byte
	}
	latest := map[softObj]best{}
	for _, id := range slices.SortedFunc(maps.Keys(s.reached), func(a, b crdt.Hash) int { return bytes.Compare(a[:], b[:]) }) {
		r := s.reached[id]
		site, ok := ch.SiteByName(r.writer)
		if len(r.kept) == 0 || !ok || site.Key != r.key {
			continue
		}
		rec, err := crdt.DecodeSoft(r.raw)
		if err != nil || !crdt.VerifySoft(genesis, rec, site.Key) {
			panic(fmt.Sprintf("chaos: seed %d: a soft record accepted does not verify: %v", s.cfg.Seed, err))
		}
		raw := r.raw
		k := softObj{rec.Kind, rec.Key}
		if b, ok := latest[k]; !ok || rec.Seq > b.seq || rec.Seq == b.seq && bytes.Compare(b.id[:], id[:]) < 0 {
			latest[k] = best{rec.Seq, id, raw}
		}
	}
	out := map[softObj][]byte{}
	for k, b := range latest {
		if k.kind == crdt.KindStatus {
			ns, name, site, cluster := splitStatus(k.key)
			_, live := ref.Object(crdt.KindWorkload, crdt.WorkloadKey(ns, name))
			ck := crdt.ClusterKey(site, cluster)
			_, softCluster := latest[softObj{crdt.KindCluster, ck}]
			// Without a cluster record, Object shows the DAG's cluster alone.
			_, dagCluster := ref.Object(crdt.KindCluster, ck)
			if !live || !softCluster && !dagCluster {
				continue
			}
		}
		out[k] = b.raw
	}
	return out
}

// splitStatus splits a status key: namespace/name/site/cluster.
func splitStatus(key string) (ns, name, site, cluster string) {
	p := strings.SplitN(key, "/", 4)
	for len(p) < 4 {
		p = append(p, "")
	}
	return p[0], p[1], p[2], p[3]
}

// checkSoft requires every correct replica to hold exactly what the oracle picks.
func (s *sim) checkSoft() error {
	c := s.correct()
	want := s.softOracle(c[0].rep)
	var errs []error
	for _, n := range c {
		if held, _ := n.rep.SoftLen(); held != len(want) {
			errs = append(errs, fmt.Errorf("%s holds %d soft records, the oracle %d", n.name, held, len(want)))
		}
		for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b softObj) int {
			if a.kind != b.kind {
				return int(a.kind) - int(b.kind)
			}
			return strings.Compare(a.key, b.key)
		}) {
			rec, raw, ok := n.rep.Soft(k.kind, k.key)
			if !ok || !bytes.Equal(raw, want[k]) {
				w, _ := crdt.DecodeSoft(want[k])
				got := "nothing"
				if ok {
					got = fmt.Sprintf("seq %d id %s", rec.Seq, crdt.SoftID(raw))
				}
				errs = append(errs, fmt.Errorf("%s: soft %s %q: holds %s, the oracle seq %d id %s", n.name, k.kind, k.key, got, w.Seq, crdt.SoftID(want[k])))
				break
			}
		}
	}
	return errors.Join(errs...)
}
