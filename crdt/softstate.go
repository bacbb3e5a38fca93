package crdt

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// The soft records a replica holds. A record is held when it is signed by its writer's
// key in the charter in force and, for a status record, its workload is live in the DAG
// state and its cluster is known (a cluster record of the writer, or the cluster in the
// DAG). A record it accepted but cannot hold now waits among the orphans (the latest one
// per object and signing key, bounded, oldest out): a status that arrives before its
// workload or cluster, a held status whose workload or cluster goes, a held record whose
// writer's key a charter change rotates or removes. It is held again if what it lacked
// comes back (a workload written again, an amendment voided). Orphans signed by a key in
// force are persisted with the held records (TakeSoft). So what a replica holds is a
// function of the records it accepted and of its DAG state and charter, whatever the
// order it heard them in, and replicas with the same state and records hold the same set.
//
// Per writer the replica keeps its records in Seq order and the XOR of their ids: the
// version vector that soft sessions exchange (softsync.go).

// softBuckets is how many buckets a writer's records are summarized in.
const softBuckets = 256

// maxSoftOrphans bounds the records waiting for their workload, cluster or key.
const maxSoftOrphans = 4096

// softRec is a held record. Its id is computed again when needed (a replacement, a drop,
// equal Seqs) rather than kept: 32 B per record. The replica owns raw (a copy of what
// arrived) and never changes it; the record's key in the map and in its writer's log
// aliases it, so a record costs one allocation.
type softRec struct {
	raw   []byte
	seq   uint64
	key   uint32 // the writer's key it was checked with (softState.keys): a charter without it sets the record aside
	empty bool   // no fields: the writer withdrew the object
}

type softWriter struct {
	digest Hash // XOR of the ids of the records held
	n      int  // records held
	nc     int  // cluster records held
	// log lists the writer's records by Seq (sorted when read: a restore adds them in
	// key order); the entry of a record replaced or dropped is garbage (no key), compacted
	// when it is half the log.
	log      []softEntry
	unsorted bool
	garbage  int
}

// softEntry is a held record's place in its writer's log. The key aliases the record's
// bytes and is cleared when the record goes, so a garbage entry keeps nothing alive.
type softEntry struct {
	seq uint64
	key string // "" once garbage
}

// obj returns the entry's object: a cluster key has one slash, a status key three.
func (e softEntry) obj() objKey {
	if strings.Count(e.key, "/") == 1 {
		return objKey{KindCluster, e.key}
	}
	return objKey{KindStatus, e.key}
}

// add logs a record held at seq.
func (w *softWriter) add(key string, seq uint64) {
	if n := len(w.log); n > 0 && w.log[n-1].seq > seq {
		w.unsorted = true
	}
	w.log = append(w.log, softEntry{seq, key})
}

// sorted puts the log in Seq order if an entry arrived out of it.
func (w *softWriter) sorted() []softEntry {
	if w.unsorted {
		slices.SortFunc(w.log, func(a, b softEntry) int { return cmp.Compare(a.seq, b.seq) })
		w.unsorted = false
	}
	return w.log
}

// find returns the index of the log entry of key at seq, or -1.
func (w *softWriter) find(key string, seq uint64) int {
	log := w.sorted()
	i, _ := slices.BinarySearchFunc(log, seq, func(e softEntry, seq uint64) int { return cmp.Compare(e.seq, seq) })
	for ; i < len(log) && log[i].seq == seq; i++ {
		if log[i].key == key {
			return i
		}
	}
	return -1
}

// retarget points the entry of key at seq to the bytes of the record that replaced it
// with the same Seq (equivocation), so the old bytes are not kept alive.
func (w *softWriter) retarget(key string, seq uint64) {
	if i := w.find(key, seq); i >= 0 {
		w.log[i].key = key
	}
}

// forget makes the entry of key at seq garbage, compacting the log when half of it is.
func (w *softWriter) forget(key string, seq uint64) {
	if i := w.find(key, seq); i >= 0 {
		w.log[i].key = ""
	}
	w.garbage++
	if w.garbage < 64 || w.garbage < len(w.log)/2 {
		return
	}
	live := w.log[:0]
	for _, e := range w.log {
		if e.key != "" {
			live = append(live, e)
		}
	}
	clear(w.log[len(live):])
	w.log, w.garbage = live, 0
}

// top returns the highest Seq the writer holds.
func (w *softWriter) top() uint64 {
	log := w.sorted()
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].key != "" {
			return log[i].seq
		}
	}
	return 0
}

func (w *softWriter) toggle(id *Hash) {
	for i := range id {
		w.digest[i] ^= id[i]
	}
}

type softState struct {
	recs     map[objKey]softRec
	writers  map[string]*softWriter
	clusters map[string]int // cluster key -> status records held on it
	keys     []PubKey       // the writers' keys records were checked with, by softRec.key
	keyIdx   map[PubKey]uint32
	orphans  []orphan
	dirty    []objKey          // held, orphaned or dropped since the last TakeSoft
	seen     map[string]uint64 // highest Seq seen per writer
}

type orphan struct {
	rec *SoftRecord
	raw []byte
	key PubKey // as softRec.key
}

func newSoftState() *softState {
	return &softState{recs: map[objKey]softRec{}, writers: map[string]*softWriter{}, clusters: map[string]int{}, keyIdx: map[PubKey]uint32{}, seen: map[string]uint64{}}
}

// keyIndex interns a writer's key: a record keeps 4 bytes, not 32.
func (s *softState) keyIndex(k PubKey) uint32 {
	i, ok := s.keyIdx[k]
	if !ok {
		i = uint32(len(s.keys))
		s.keys = append(s.keys, k)
		s.keyIdx[k] = i
	}
	return i
}

func softBucket(k objKey) int {
	h := fnv.New32a()
	h.Write([]byte{byte(k.kind)})
	h.Write([]byte(k.key))
	return int(h.Sum32() % softBuckets)
}

// Why a soft record is not held.
var (
	ErrSoftWriter = errors.New("soft record: the writer is not a site of the charter in force")
	ErrSoftSig    = errors.New("soft record: bad signature")
	ErrSoftFull   = errors.New("soft record: the writer holds too many cluster records")
)

// SoftResult is what ReceiveSoft did with a record.
type SoftResult struct {
	Stored   bool // held now (raw is the record to relay)
	Orphaned bool // waits for its workload or cluster
	Stale    bool // already held, or older than what is held
}

// ReceiveSoft checks a record from anywhere and holds it if it is the newest of its
// object. An error means the sender sent something invalid.
func (r *Replica) ReceiveSoft(raw []byte) (SoftResult, error) {
	rec, err := DecodeSoft(raw)
	if err != nil {
		return SoftResult{}, err
	}
	if held, ok := r.soft.recs[objKey{rec.Kind, rec.Key}]; ok && held.seq >= rec.Seq && bytes.Equal(held.raw, raw) {
		return SoftResult{Stale: true}, nil // the record held: its signature was checked
	}
	w := rec.Writer()
	site, ok := r.charter.SiteByName(w)
	if !ok {
		return SoftResult{}, fmt.Errorf("%w: %q", ErrSoftWriter, w)
	}
	if !VerifySoft(r.genesis, rec, site.Key) {
		return SoftResult{}, fmt.Errorf("%w (%s %q by %s)", ErrSoftSig, rec.Kind, rec.Key, w)
	}
	own := bytes.Clone(raw) // the caller's buffer, or a slice of a frame of many records
	h, err := parseSoftHead(own)
	if err != nil {
		panic("crdt: a decoded soft record has no head: " + err.Error())
	}
	return r.holdSoft(h, own, site.Key, false)
}

// ReserveSoft makes room for n records about to be restored, so that restoring a large
// data file does not grow the index step by step.
func (r *Replica) ReserveSoft(n int) {
	if len(r.soft.recs) == 0 && n > 0 {
		r.soft.recs = make(map[objKey]softRec, min(n, maxSoftReserve))
	}
}

// maxSoftReserve bounds what ReserveSoft takes from a data file's count: 16M records.
const maxSoftReserve = 1 << 24

// RestoreSoft holds a record read back from this replica's own data file (or keeps it
// as an orphan), whose signature was checked when it arrived. The replica keeps raw:
// the caller must not use it again.
func (r *Replica) RestoreSoft(raw []byte) error {
	h, err := parseSoftHead(raw) // not the fields nor the canonical form: the file is sealed
	if err != nil {
		return err
	}
	site, ok := r.charter.SiteByName(SoftWriter(h.kind, h.key))
	if !ok {
		return nil
	}
	_, err = r.holdSoft(h, raw, site.Key, true)
	return err
}

// WriteSoft signs and holds a record of this replica's own objects. now orders it after
// whatever the writer published before, across restarts (a time in any unit that grows:
// the site passes Unix milliseconds).
func (r *Replica) WriteSoft(author *Signer, now uint64, kind Kind, key string, fields []SoftField) ([]byte, error) {
	rec := &SoftRecord{Kind: kind, Key: key, Fields: fields}
	w := rec.Writer()
	site, ok := r.charter.SiteByName(w)
	if !ok || site.Key != author.Public() {
		return nil, fmt.Errorf("%w: %q with key %s", ErrSoftWriter, w, author.Public())
	}
	for _, f := range fields {
		if l := softLevel(f.Name); l > r.charter.Format() {
			return nil, fmt.Errorf("soft field %q needs format level %d, the charter has %d", f.Name, l, r.charter.Format())
		}
	}
	rec.Seq = max(now, r.soft.seen[w]+1)
	raw, err := SignSoft(r.genesis, rec, author)
	if err != nil {
		return nil, err
	}
	h, err := parseSoftHead(raw)
	if err != nil {
		return nil, err
	}
	res, err := r.holdSoft(h, raw, site.Key, false)
	if err != nil {
		return nil, err
	}
	if !res.Stored {
		return nil, errors.New("soft record: not held (its workload or cluster is unknown)")
	}
	return raw, nil
}

// holdSoft holds a record checked with its writer's key, or keeps it as an orphan.
func (r *Replica) holdSoft(h softHead, raw []byte, key PubKey, restoring bool) (SoftResult, error) {
	s := r.soft
	w := SoftWriter(h.kind, h.key)
	s.seen[w] = max(s.seen[w], h.seq)
	k := objKey{h.kind, h.key} // aliases raw
	old, had := s.recs[k]
	var id, oldID Hash
	if had {
		id, oldID = SoftID(raw), SoftID(old.raw)
		if !(h.seq > old.seq || h.seq == old.seq && compareHash(&oldID, &id) < 0) {
			return SoftResult{Stale: true}, nil
		}
	}
	if !r.softKnown(h.kind, h.key) {
		rec, err := parseSoft(raw)
		if err != nil {
			return SoftResult{}, err
		}
		s.orphan(orphan{rec, raw, key})
		return SoftResult{Orphaned: true}, nil
	}
	wr := s.writers[w]
	if wr == nil {
		wr = &softWriter{}
		s.writers[w] = wr
	}
	if !had && h.kind == KindCluster && wr.nc >= MaxSoftClusters {
		return SoftResult{}, fmt.Errorf("%w (%d)", ErrSoftFull, MaxSoftClusters)
	}
	if had {
		wr.toggle(&oldID)
		delete(s.recs, k) // the map's key aliases the old record's bytes
	} else {
		id = SoftID(raw)
		wr.n++
		if h.kind == KindCluster {
			wr.nc++
		} else {
			s.clusters[softStatusCluster(h.key)]++
		}
	}
	wr.toggle(&id)
	s.recs[k] = softRec{raw: raw, seq: h.seq, key: s.keyIndex(key), empty: h.empty}
	switch {
	case !had:
		wr.add(k.key, h.seq)
	case old.seq != h.seq:
		wr.forget(k.key, old.seq)
		wr.add(k.key, h.seq)
	default: // the same Seq (equivocation) keeps its log entry
		wr.retarget(k.key, h.seq)
	}
	if !restoring { // what a restore holds is in the data file already
		s.dirty = append(s.dirty, k)
	}
	if h.kind == KindCluster && !had && len(s.orphans) > 0 {
		r.adoptOrphans()
	}
	return SoftResult{Stored: true}, nil
}

// softKnown reports whether an object's record may be held now.
func (r *Replica) softKnown(kind Kind, key string) bool {
	if kind == KindCluster {
		return true
	}
	if o := r.state.objs[objKey{KindWorkload, statusWorkload(key)}]; o == nil || !o.live() {
		return false
	}
	ck := objKey{KindCluster, softStatusCluster(key)}
	if _, ok := r.soft.recs[ck]; ok {
		return true
	}
	o := r.state.objs[ck]
	return o != nil && o.live()
}

// statusWorkload returns the workload key of a status key.
func statusWorkload(key string) string {
	i := strings.IndexByte(key, '/')
	j := strings.IndexByte(key[i+1:], '/')
	return key[:i+1+j]
}

// softStatusCluster returns the cluster key of a status key.
func softStatusCluster(key string) string {
	i := strings.IndexByte(key, '/')
	j := strings.IndexByte(key[i+1:], '/')
	return key[i+1+j+1:]
}

// orphan keeps a record among the orphans if it is the latest of its object and signing
// key there, by the order of held records (Seq, then id).
func (s *softState) orphan(o orphan) {
	rec := o.rec
	k := objKey{rec.Kind, rec.Key}
	for i, old := range s.orphans {
		if old.rec.Key == rec.Key && old.rec.Kind == rec.Kind && old.key == o.key {
			if rec.Seq > old.rec.Seq || rec.Seq == old.rec.Seq && softIDLess(old.raw, o.raw) {
				s.orphans[i] = o
				s.dirty = append(s.dirty, k)
			}
			return
		}
	}
	if len(s.orphans) >= maxSoftOrphans {
		out := s.orphans[0].rec
		s.orphans = s.orphans[1:] // oldest out; a session brings it again
		s.dirty = append(s.dirty, objKey{out.Kind, out.Key})
	}
	s.orphans = append(s.orphans, o)
	s.dirty = append(s.dirty, k)
}

// softIDLess reports whether record a's id is below b's.
func softIDLess(a, b []byte) bool {
	ia, ib := SoftID(a), SoftID(b)
	return compareHash(&ia, &ib) < 0
}

// adoptOrphans holds the orphans signed by a key in force whose workload and cluster
// are now known.
func (r *Replica) adoptOrphans() {
	s := r.soft
	var wait []orphan
	var ready []orphan
	for _, o := range s.orphans {
		if r.softInForce(o.rec.Kind, o.rec.Key, o.key) && r.softKnown(o.rec.Kind, o.rec.Key) {
			ready = append(ready, o)
		} else {
			wait = append(wait, o)
		}
	}
	if len(ready) == 0 {
		return
	}
	s.orphans = wait
	for _, o := range ready {
		s.dirty = append(s.dirty, objKey{o.rec.Kind, o.rec.Key})
		if h, err := parseSoftHead(o.raw); err == nil {
			_, _ = r.holdSoft(h, o.raw, o.key, false)
		}
	}
}

// dropSoft forgets a held record.
func (r *Replica) dropSoft(k objKey) {
	s := r.soft
	old, ok := s.recs[k]
	if !ok {
		return
	}
	w := SoftWriter(k.kind, k.key)
	wr := s.writers[w]
	id := SoftID(old.raw)
	wr.toggle(&id)
	wr.n--
	if k.kind == KindCluster {
		wr.nc--
	} else if c := softStatusCluster(k.key); s.clusters[c] <= 1 {
		delete(s.clusters, c)
	} else {
		s.clusters[c]--
	}
	delete(s.recs, k)
	if wr.n == 0 {
		delete(s.writers, w)
	} else {
		wr.forget(k.key, old.seq)
	}
	s.dirty = append(s.dirty, k)
}

// recheckSoft returns to the orphans the held status records among keys whose workload
// or cluster is no longer known. Dropping them instead would make what a replica holds
// depend on when it heard what: a replica that received a record while its workload was
// removed keeps it as an orphan and holds it when the workload comes back; one that held
// it then must do the same.
func (r *Replica) recheckSoft(keys []string) {
	slices.Sort(keys)
	for _, key := range slices.Compact(keys) {
		k := objKey{KindStatus, key}
		if _, ok := r.soft.recs[k]; ok && !r.softKnown(KindStatus, key) {
			r.unholdSoft(k)
		}
	}
}

// unholdSoft moves a held record to the orphans.
func (r *Replica) unholdSoft(k objKey) {
	sr := r.soft.recs[k]
	rec, err := DecodeSoft(sr.raw)
	if err != nil {
		panic("crdt: held soft record does not decode: " + err.Error())
	}
	r.dropSoft(k)
	r.soft.orphan(orphan{rec, sr.raw, r.soft.keys[sr.key]})
}

// softInForce reports whether key is the key of an object's writer in the charter in
// force.
func (r *Replica) softInForce(kind Kind, key string, signed PubKey) bool {
	site, ok := r.charter.SiteByName(SoftWriter(kind, key))
	return ok && site.Key == signed
}

// softStatusKeys returns the keys of the held status records of a workload or cluster
// that is no longer live in the DAG.
func (r *Replica) softStatusKeys(gone objKey) []string {
	switch gone.kind {
	case KindWorkload: // one look-up per cluster that has any, not an index per workload
		var out []string
		for c := range r.soft.clusters {
			if key := gone.key + "/" + c; r.softHeld(objKey{KindStatus, key}) {
				out = append(out, key)
			}
		}
		return out
	case KindCluster:
		if _, ok := r.soft.recs[gone]; ok || r.soft.clusters[gone.key] == 0 {
			return nil // still known by its soft record, or no status held there: no scan
		}
		var out []string
		for k := range r.soft.recs {
			if k.kind == KindStatus && softStatusCluster(k.key) == gone.key {
				out = append(out, k.key)
			}
		}
		return out
	}
	return nil
}

func (r *Replica) softHeld(k objKey) bool { _, ok := r.soft.recs[k]; return ok }

// refilterSoft re-applies the holding rules after the DAG state or the charter changed
// wholesale (a rebuild after a revocation, a charter change): records not signed by
// their writer's key in the charter in force (a writer that left it, a key rotated) and
// statuses whose workload or cluster is no longer known go to the orphans; orphans that
// may be held now are.
func (r *Replica) refilterSoft() {
	s := r.soft
	var out []objKey
	for k, rec := range s.recs {
		if !r.softInForce(k.kind, k.key, s.keys[rec.key]) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, objKey.compare)
	for _, k := range out {
		r.unholdSoft(k)
	}
	for _, o := range s.orphans { // the data file keeps only orphans signed by a key in force
		s.dirty = append(s.dirty, objKey{o.rec.Kind, o.rec.Key})
	}
	var keys []string
	for k := range s.recs {
		if k.kind == KindStatus {
			keys = append(keys, k.key)
		}
	}
	r.recheckSoft(keys)
	r.adoptOrphans()
}

// followState brings soft state in line with a DAG state that changed: after every
// change stored, and wholesale after a charter change (which may rebuild the state).
func (r *Replica) followState(charter bool) {
	st := r.state
	gone, born := st.gone, st.born
	st.gone, st.born = nil, false
	if charter {
		r.refilterSoft()
		return
	}
	var keys []string
	for _, k := range gone {
		if o := st.objs[k]; o == nil || !o.live() {
			keys = append(keys, r.softStatusKeys(k)...)
		}
	}
	if len(keys) > 0 {
		r.recheckSoft(keys)
	}
	if born && len(r.soft.orphans) > 0 {
		r.adoptOrphans()
	}
}

// SoftChange is a record to keep in the data file (held, or waiting as an orphan), or
// (Raw nil) the object's record to delete.
type SoftChange struct {
	Kind Kind
	Key  string
	Raw  []byte
}

// TakeSoft returns what the records to keep gained and lost since the last call (records
// of sessions, orphans, drops), one per object, for the caller to persist: the held
// record, else the orphan signed by a key in force. RestoreSoft takes them back.
func (r *Replica) TakeSoft() []SoftChange {
	s := r.soft
	if len(s.dirty) == 0 {
		return nil
	}
	seen := make(map[objKey]bool, len(s.dirty))
	var orphans map[objKey][]byte
	out := make([]SoftChange, 0, len(s.dirty))
	for _, k := range s.dirty {
		if seen[k] {
			continue
		}
		seen[k] = true
		c := SoftChange{Kind: k.kind, Key: k.key}
		if rec, ok := s.recs[k]; ok {
			c.Raw = rec.raw
		} else {
			if orphans == nil {
				// RestoreSoft trusts the data file: keep there only orphans signed by a
				// key in force (one per object at most).
				orphans = make(map[objKey][]byte, len(s.orphans))
				for _, o := range s.orphans {
					if r.softInForce(o.rec.Kind, o.rec.Key, o.key) {
						orphans[objKey{o.rec.Kind, o.rec.Key}] = o.raw
					}
				}
			}
			c.Raw = orphans[k]
		}
		out = append(out, c)
	}
	s.dirty = nil
	return out
}

// Soft returns the held record of an object.
func (r *Replica) Soft(kind Kind, key string) (*SoftRecord, []byte, bool) {
	sr, ok := r.soft.recs[objKey{kind, key}]
	if !ok {
		return nil, nil, false
	}
	rec, err := parseSoft(sr.raw)
	if err != nil {
		panic("crdt: held soft record does not decode: " + err.Error())
	}
	return rec, sr.raw, true
}

// SoftLen returns how many records the replica holds, and how many wait as orphans.
func (r *Replica) SoftLen() (held, orphans int) { return len(r.soft.recs), len(r.soft.orphans) }

// SoftDigest hashes every held record: replicas that hold the same records agree.
func (r *Replica) SoftDigest() Hash {
	var b []byte
	for _, e := range r.SoftVector() {
		b = appendBytes(b, []byte(e.Writer))
		b = append(b, e.Digest[:]...)
	}
	return hashWithDomain(domainSoft, b)
}
