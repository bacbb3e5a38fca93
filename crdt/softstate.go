package crdt

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
)

// The soft records a replica holds. A record is held when it is signed by its writer's
// key in the charter in force and, for a status record, its workload is live in the DAG
// state and its cluster is known (a cluster record of the writer, or the cluster in the
// DAG). A status record that arrives before its workload or cluster waits among the
// orphans (bounded, oldest out); one whose workload is removed is dropped. So what a
// replica holds is a function of the records it received and its DAG state, and replicas
// with the same DAG state and records hold the same set.
//
// Per writer the replica keeps its records in Seq order and the XOR of their ids: the
// version vector that soft sessions exchange (softsync.go).

// softBuckets is how many buckets a writer's records are summarized in.
const softBuckets = 256

// maxSoftOrphans bounds the status records waiting for their workload or cluster.
const maxSoftOrphans = 4096

// softRec is a held record. Its id is computed again when needed (a replacement, a drop,
// equal Seqs) rather than kept: 32 B per record.
type softRec struct {
	raw   []byte
	seq   uint64
	empty bool // no fields: the writer withdrew the object
}

type softWriter struct {
	digest Hash // XOR of the ids of the records held
	n      int  // records held
	nc     int  // cluster records held
	// log lists the writer's records by Seq; an entry whose record was replaced or
	// dropped is garbage, compacted when it is half the log.
	log     []softEntry
	garbage int
}

type softEntry struct {
	seq uint64
	k   objKey
}

// add logs a record held at seq, in Seq order (records mostly arrive in order).
func (w *softWriter) add(k objKey, seq uint64) {
	i := len(w.log)
	for i > 0 && w.log[i-1].seq > seq {
		i--
	}
	w.log = append(w.log, softEntry{})
	copy(w.log[i+1:], w.log[i:])
	w.log[i] = softEntry{seq, k}
}

// forget counts one log entry as garbage, compacting the log when half of it is.
func (w *softWriter) forget(s *softState) {
	w.garbage++
	if w.garbage < 64 || w.garbage < len(w.log)/2 {
		return
	}
	live := w.log[:0]
	for _, e := range w.log {
		if s.live(e) {
			live = append(live, e)
		}
	}
	clear(w.log[len(live):])
	w.log, w.garbage = live, 0
}

// live reports whether a log entry is its object's held record.
func (s *softState) live(e softEntry) bool {
	rec, ok := s.recs[e.k]
	return ok && rec.seq == e.seq
}

// top returns the highest Seq the writer holds.
func (w *softWriter) top(s *softState) uint64 {
	for i := len(w.log) - 1; i >= 0; i-- {
		if s.live(w.log[i]) {
			return w.log[i].seq
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
	orphans  []orphan
	dirty    []objKey          // held or dropped since the last TakeSoft
	seen     map[string]uint64 // highest Seq seen per writer
}

type orphan struct {
	rec *SoftRecord
	raw []byte
}

func newSoftState() *softState {
	return &softState{recs: map[objKey]softRec{}, writers: map[string]*softWriter{}, clusters: map[string]int{}, seen: map[string]uint64{}}
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
	w := rec.Writer()
	site, ok := r.charter.SiteByName(w)
	if !ok {
		return SoftResult{}, fmt.Errorf("%w: %q", ErrSoftWriter, w)
	}
	if !VerifySoft(r.genesis, rec, site.Key) {
		return SoftResult{}, fmt.Errorf("%w (%s %q by %s)", ErrSoftSig, rec.Kind, rec.Key, w)
	}
	return r.holdSoft(rec, raw)
}

// RestoreSoft holds a record read back from this replica's own data file, whose
// signature was checked when it arrived.
func (r *Replica) RestoreSoft(raw []byte) error {
	rec, err := DecodeSoft(raw)
	if err != nil {
		return err
	}
	if _, ok := r.charter.SiteByName(rec.Writer()); !ok {
		return nil
	}
	_, err = r.holdSoft(rec, raw)
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
	rec.Seq = max(now, r.soft.seen[w]+1)
	raw, err := SignSoft(r.genesis, rec, author)
	if err != nil {
		return nil, err
	}
	res, err := r.holdSoft(rec, raw)
	if err != nil {
		return nil, err
	}
	if !res.Stored {
		return nil, errors.New("soft record: not held (its workload or cluster is unknown)")
	}
	return raw, nil
}

func (r *Replica) holdSoft(rec *SoftRecord, raw []byte) (SoftResult, error) {
	s := r.soft
	w := rec.Writer()
	s.seen[w] = max(s.seen[w], rec.Seq)
	k := objKey{rec.Kind, rec.Key}
	id := SoftID(raw)
	old, had := s.recs[k]
	var oldID Hash
	if had {
		oldID = SoftID(old.raw)
		if !(rec.Seq > old.seq || rec.Seq == old.seq && compareHash(&oldID, &id) < 0) {
			return SoftResult{Stale: true}, nil
		}
	}
	if !r.softKnown(rec) {
		s.orphan(rec, raw)
		return SoftResult{Orphaned: true}, nil
	}
	wr := s.writers[w]
	if wr == nil {
		wr = &softWriter{}
		s.writers[w] = wr
	}
	if !had && rec.Kind == KindCluster && wr.nc >= MaxSoftClusters {
		return SoftResult{}, fmt.Errorf("%w (%d)", ErrSoftFull, MaxSoftClusters)
	}
	if had {
		wr.toggle(&oldID)
	} else {
		wr.n++
		if rec.Kind == KindCluster {
			wr.nc++
		} else {
			s.clusters[softStatusCluster(rec.Key)]++
		}
	}
	wr.toggle(&id)
	s.recs[k] = softRec{raw: raw, seq: rec.Seq, empty: len(rec.Fields) == 0}
	switch {
	case !had:
		wr.add(k, rec.Seq)
	case old.seq != rec.Seq: // the same Seq (equivocation) keeps its log entry
		wr.forget(s)
		wr.add(k, rec.Seq)
	}
	s.dirty = append(s.dirty, k)
	if rec.Kind == KindCluster && !had && len(s.orphans) > 0 {
		r.adoptOrphans()
	}
	return SoftResult{Stored: true}, nil
}

// softKnown reports whether a record's object may be held now.
func (r *Replica) softKnown(rec *SoftRecord) bool {
	if rec.Kind == KindCluster {
		return true
	}
	if o := r.state.objs[objKey{KindWorkload, statusWorkload(rec.Key)}]; o == nil || !o.live() {
		return false
	}
	ck := objKey{KindCluster, softStatusCluster(rec.Key)}
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

func (s *softState) orphan(rec *SoftRecord, raw []byte) {
	for i, o := range s.orphans {
		if o.rec.Key == rec.Key && o.rec.Kind == rec.Kind {
			if rec.Seq > o.rec.Seq {
				s.orphans[i] = orphan{rec, raw}
			}
			return
		}
	}
	if len(s.orphans) >= maxSoftOrphans {
		s.orphans = s.orphans[1:] // oldest out; a session brings it again
	}
	s.orphans = append(s.orphans, orphan{rec, raw})
}

// adoptOrphans holds the orphans whose workload and cluster are now known.
func (r *Replica) adoptOrphans() {
	s := r.soft
	var wait []orphan
	var ready []orphan
	for _, o := range s.orphans {
		if r.softKnown(o.rec) {
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
		_, _ = r.holdSoft(o.rec, o.raw)
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
		wr.forget(s)
	}
	s.dirty = append(s.dirty, k)
}

// softWorkloadGone drops the status records of a workload no longer live: one look-up
// per cluster that has any, rather than an index of every workload's records.
func (r *Replica) softWorkloadGone(wl string) {
	var gone []objKey
	for c := range r.soft.clusters {
		if k := (objKey{KindStatus, wl + "/" + c}); r.softHeld(k) {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		r.dropSoft(k)
	}
}

func (r *Replica) softHeld(k objKey) bool { _, ok := r.soft.recs[k]; return ok }

// refilterSoft re-applies the holding rules after the DAG state or the charter changed
// wholesale (a rebuild after a revocation, a charter change): records of writers that
// left the charter or of workloads no longer live go; orphans now known are held.
func (r *Replica) refilterSoft() {
	s := r.soft
	for w := range s.writers {
		if _, ok := r.charter.SiteByName(w); !ok {
			for k := range s.recs {
				if SoftWriter(k.kind, k.key) == w {
					r.dropSoft(k)
				}
			}
		}
	}
	var gone []objKey
	for k := range s.recs {
		if k.kind != KindStatus {
			continue
		}
		if o := r.state.objs[objKey{KindWorkload, statusWorkload(k.key)}]; o == nil || !o.live() {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		r.dropSoft(k)
	}
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
	for _, wl := range gone {
		if o := st.objs[objKey{KindWorkload, wl}]; o == nil || !o.live() {
			r.softWorkloadGone(wl)
		}
	}
	if born && len(r.soft.orphans) > 0 {
		r.adoptOrphans()
	}
}

// SoftChange is a held record to write to the data file, or (Raw nil) one to delete.
type SoftChange struct {
	Kind Kind
	Key  string
	Raw  []byte
}

// TakeSoft returns what the held records gained and lost since the last call (records
// of sessions, of adopted orphans, drops), for the caller to persist.
func (r *Replica) TakeSoft() []SoftChange {
	s := r.soft
	if len(s.dirty) == 0 {
		return nil
	}
	seen := make(map[objKey]bool, len(s.dirty))
	out := make([]SoftChange, 0, len(s.dirty))
	for _, k := range s.dirty {
		if seen[k] {
			continue
		}
		seen[k] = true
		c := SoftChange{Kind: k.kind, Key: k.key}
		if rec, ok := s.recs[k]; ok {
			c.Raw = rec.raw
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
	rec, err := DecodeSoft(sr.raw)
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
