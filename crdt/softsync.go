package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Soft sessions reconcile the soft records of two replicas by version vector: per
// writer, the highest Seq held and a digest of the records held. Two replicas in sync
// exchange their vectors and nothing else. Otherwise each sends the records of every
// writer whose digest differs that are newer than the other's highest Seq: only the latest
// record of each object, never its history. If the digests still differ after that (a
// writer that equivocated, records one side dropped or holds as orphans, or only records
// pushed while the session ran), the two sides compare the writer's records up to the
// lower of their highest Seqs, in 256 buckets by object, and send the records of the
// buckets that differ: records pushed meanwhile, above that bound, do not count. A session is a fixed sequence of frames, so it always ends:
//
//	initiator                         responder
//	vector                   ->
//	                         <-       done (the vectors agree), or
//	                         <-       vector, records..., end
//	records..., vector, end  ->
//	                         <-       done (vectors agree), or buckets..., end
//	records..., buckets..., end ->
//	                         <-       records..., done
//
// Frames are at most MaxSoftFrameBytes; the first byte says what a frame is.

// MaxSoftFrameBytes bounds one frame of a soft session.
const MaxSoftFrameBytes = 4 << 20

const (
	frameVector  = 'V'
	frameRecords = 'R'
	frameEnd     = 'E'
	frameBuckets = 'B'
	frameDone    = 'D'
)

// maxSoftWriters bounds the entries of a vector and the buckets frames of a session.
const maxSoftWriters = 1 << 14

// SoftEntry is one writer's entry in a version vector.
type SoftEntry struct {
	Writer string
	Max    uint64
	Digest Hash
}

// SoftVector returns the replica's version vector, sorted by writer.
func (r *Replica) SoftVector() []SoftEntry {
	out := make([]SoftEntry, 0, len(r.soft.writers))
	for name, w := range r.soft.writers {
		out = append(out, SoftEntry{Writer: name, Max: w.top(), Digest: w.digest})
	}
	slices.SortFunc(out, func(a, b SoftEntry) int {
		if a.Writer < b.Writer {
			return -1
		}
		if a.Writer > b.Writer {
			return 1
		}
		return 0
	})
	return out
}

// SoftSession is one side of a soft session. It is a pure state machine like Session.
type SoftSession struct {
	r         *Replica
	initiator bool
	phase     int
	theirs    map[string]SoftEntry
	buckets   map[string]bucketDigests // the other side's, by writer
	done      bool
	// Received counts records received, Held those now held, Rejected the invalid ones.
	Received, Held, Rejected int
	// BytesIn and BytesOut count the frames' bytes; Buckets the writers compared by bucket.
	BytesIn, BytesOut, Buckets int
	// NoBuckets, set by the caller before the first step, skips the bucket comparison:
	// it costs a pass over the writers' records, which a peer could otherwise ask for at
	// every session (the site allows it once per peer every few seconds).
	NoBuckets bool
}

// Compared reports whether the session compared any writer by bucket, either side.
func (s *SoftSession) Compared() bool { return s.Buckets > 0 || len(s.buckets) > 0 }

// InitiateSoft starts a soft session and returns the first frame.
func (r *Replica) InitiateSoft() (*SoftSession, []byte) {
	s := &SoftSession{r: r, initiator: true}
	f := s.vectorFrame()
	s.BytesOut += len(f)
	return s, f
}

// RespondSoft answers a soft session a peer started.
func (r *Replica) RespondSoft() *SoftSession { return &SoftSession{r: r} }

// Done reports whether the session has ended.
func (s *SoftSession) Done() bool { return s.done }

// ErrSoftSession is a frame out of turn or malformed.
var ErrSoftSession = errors.New("soft session")

// Step takes one frame from the other side and returns the frames to send.
func (s *SoftSession) Step(in []byte) ([][]byte, error) {
	if s.done {
		return nil, fmt.Errorf("%w: frame after the end", ErrSoftSession)
	}
	if len(in) == 0 || len(in) > MaxSoftFrameBytes {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrSoftSession, len(in))
	}
	s.BytesIn += len(in)
	out, err := s.step(in[0], in[1:])
	for _, f := range out {
		s.BytesOut += len(f)
	}
	return out, err
}

func (s *SoftSession) step(kind byte, body []byte) ([][]byte, error) {
	switch kind {
	case frameVector:
		v, err := decodeVector(body)
		if err != nil {
			return nil, err
		}
		s.theirs = v
		if !s.initiator && s.phase == 0 {
			if len(s.differing()) == 0 { // in sync: one vector, one byte
				s.done = true
				return [][]byte{{frameDone}}, nil
			}
			s.phase = 1
			return s.finish(append([][]byte{s.vectorFrame()}, s.newer()...)), nil
		}
		return nil, nil
	case frameRecords:
		return nil, s.records(body)
	case frameBuckets:
		w, b, err := decodeBuckets(body)
		if err != nil {
			return nil, err
		}
		if s.buckets == nil {
			s.buckets = map[string]bucketDigests{}
		}
		if len(s.buckets) >= maxSoftWriters {
			return nil, fmt.Errorf("%w: too many buckets frames", ErrSoftSession)
		}
		s.buckets[w] = b
		return nil, nil
	case frameDone:
		if !s.initiator {
			return nil, fmt.Errorf("%w: done out of turn", ErrSoftSession)
		}
		s.done = true
		return nil, nil
	case frameEnd:
		return s.end()
	}
	return nil, fmt.Errorf("%w: unknown frame %q", ErrSoftSession, kind)
}

func (s *SoftSession) end() ([][]byte, error) {
	if s.theirs == nil {
		return nil, fmt.Errorf("%w: end before a vector", ErrSoftSession)
	}
	switch {
	case s.initiator && s.phase == 0: // the responder's records are in
		s.phase = 1
		out := s.newer()
		return s.finish(append(out, s.vectorFrame())), nil
	case !s.initiator && s.phase == 1: // the initiator's records and vector are in
		s.phase = 2
		var out [][]byte
		for _, w := range s.differing() {
			if s.NoBuckets {
				break
			}
			bound := s.theirs[w].Max
			if wr := s.r.soft.writers[w]; wr != nil {
				bound = min(bound, wr.top())
			}
			out = append(out, s.bucketsFrame(w, bound))
		}
		if len(out) == 0 {
			s.done = true
			return [][]byte{{frameDone}}, nil
		}
		return s.finish(out), nil
	case s.initiator && s.phase == 1: // the responder's buckets are in
		s.phase = 2
		var out, bs [][]byte
		if s.NoBuckets {
			s.buckets = nil
		}
		for _, w := range sortedKeys(s.buckets) {
			out = append(out, s.inBuckets(w, s.buckets[w])...)
			bs = append(bs, s.bucketsFrame(w, s.buckets[w].bound))
		}
		return s.finish(append(out, bs...)), nil
	case !s.initiator && s.phase == 2: // the initiator's bucket records and buckets are in
		var out [][]byte
		if s.NoBuckets {
			s.buckets = nil
		}
		for _, w := range sortedKeys(s.buckets) {
			out = append(out, s.inBuckets(w, s.buckets[w])...)
		}
		s.done = true
		return append(out, []byte{frameDone}), nil
	}
	return nil, fmt.Errorf("%w: end out of turn", ErrSoftSession)
}

func (s *SoftSession) finish(out [][]byte) [][]byte { return append(out, []byte{frameEnd}) }

// records holds the records of a frame.
func (s *SoftSession) records(body []byte) error {
	d := &decoder{b: body}
	n := d.count("records", MaxSoftFrameBytes)
	for range n {
		raw := d.bytes("record", MaxSoftRecordBytes)
		if d.err != nil {
			break
		}
		s.Received++
		res, err := s.r.ReceiveSoft(raw)
		switch {
		case errors.Is(err, ErrSoftWriter):
			// a writer this replica's charter does not know yet: not the sender's fault
		case err != nil:
			s.Rejected++
		case res.Stored:
			s.Held++
		}
	}
	if d.err == nil && d.off != len(d.b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrSoftSession, d.err)
	}
	return nil
}

// differing returns the writers whose digests differ from the other side's vector.
func (s *SoftSession) differing() []string {
	var out []string
	mine := map[string]bool{}
	for _, e := range s.r.SoftVector() {
		mine[e.Writer] = true
		if t, ok := s.theirs[e.Writer]; !ok || t.Digest != e.Digest {
			out = append(out, e.Writer)
		}
	}
	for w := range s.theirs {
		if !mine[w] {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

// newer returns, in frames, the records the other side lacks by its vector: for each
// writer whose digest differs, those newer than its highest Seq there.
func (s *SoftSession) newer() [][]byte {
	var fr recordFrames
	soft := s.r.soft
	for _, w := range s.differing() {
		wr := soft.writers[w]
		if wr == nil {
			continue
		}
		after := s.theirs[w].Max
		log := wr.sorted()
		i, _ := slices.BinarySearchFunc(log, after, func(e softEntry, seq uint64) int {
			if e.seq <= seq {
				return -1
			}
			return 1
		})
		for _, e := range log[i:] {
			if e.key != "" {
				fr.add(soft.recs[e.obj()].raw)
			}
		}
	}
	return fr.frames()
}

// bucketDigests are a writer's records up to bound, summarized by bucket.
type bucketDigests struct {
	bound   uint64
	digests []uint64
}

// digestsUpTo summarizes the writer's records with Seq at most bound, by bucket: 8 bytes
// of the XOR of their ids each (a collision only delays one repair to a later session).
func (s *SoftSession) digestsUpTo(w string, bound uint64) []uint64 {
	out := make([]uint64, softBuckets)
	wr := s.r.soft.writers[w]
	if wr == nil {
		return out
	}
	for _, e := range wr.sorted() {
		if e.seq > bound {
			break
		}
		if e.key != "" {
			k := e.obj()
			id := SoftID(s.r.soft.recs[k].raw)
			out[softBucket(k)] ^= binary.BigEndian.Uint64(id[:8])
		}
	}
	return out
}

// inBuckets returns the writer's records up to the other side's bound in the buckets
// whose digests differ from theirs.
func (s *SoftSession) inBuckets(w string, theirs bucketDigests) [][]byte {
	wr := s.r.soft.writers[w]
	if wr == nil {
		return nil
	}
	mine := s.digestsUpTo(w, theirs.bound)
	var fr recordFrames
	for _, e := range wr.sorted() {
		if e.seq > theirs.bound {
			break
		}
		if e.key == "" {
			continue
		}
		if k := e.obj(); mine[softBucket(k)] != theirs.digests[softBucket(k)] {
			fr.add(s.r.soft.recs[k].raw)
		}
	}
	return fr.frames()
}

func (s *SoftSession) vectorFrame() []byte {
	v := s.r.SoftVector()
	b := binary.AppendUvarint([]byte{frameVector}, uint64(len(v)))
	for _, e := range v {
		b = appendBytes(b, []byte(e.Writer))
		b = binary.AppendUvarint(b, e.Max)
		b = append(b, e.Digest[:]...)
	}
	return b
}

func decodeVector(body []byte) (map[string]SoftEntry, error) {
	d := &decoder{b: body}
	n := d.count("writers", maxSoftWriters)
	v := make(map[string]SoftEntry, n)
	for range n {
		var e SoftEntry
		e.Writer = string(d.bytes("writer", 63))
		e.Max = d.uvarint("max")
		copy(e.Digest[:], d.fixed("digest", 32))
		if d.err != nil {
			break
		}
		if !IsDNSLabel(e.Writer) {
			d.fail("writer %q is not a site name", e.Writer)
			break
		}
		v[e.Writer] = e
	}
	if d.err == nil && (d.off != len(d.b) || len(v) != n) {
		d.fail("trailing bytes or repeated writers")
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: vector: %v", ErrSoftSession, d.err)
	}
	return v, nil
}

// bucketsFrame is the writer's bucket digests up to bound.
func (s *SoftSession) bucketsFrame(w string, bound uint64) []byte {
	s.Buckets++
	b := appendBytes([]byte{frameBuckets}, []byte(w))
	b = binary.AppendUvarint(b, bound)
	for _, d := range s.digestsUpTo(w, bound) {
		b = binary.BigEndian.AppendUint64(b, d)
	}
	return b
}

func decodeBuckets(body []byte) (string, bucketDigests, error) {
	d := &decoder{b: body}
	w := string(d.bytes("writer", 63))
	bound := d.uvarint("bound")
	raw := d.fixed("buckets", 8*softBuckets)
	if d.err == nil && d.off != len(d.b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return "", bucketDigests{}, fmt.Errorf("%w: buckets: %v", ErrSoftSession, d.err)
	}
	out := bucketDigests{bound: bound, digests: make([]uint64, softBuckets)}
	for i := range out.digests {
		out.digests[i] = binary.BigEndian.Uint64(raw[8*i:])
	}
	return w, out, nil
}

// recordFrames packs records into frames of at most MaxSoftFrameBytes.
type recordFrames struct {
	done [][]byte
	cur  [][]byte
	size int
}

func (f *recordFrames) add(raw []byte) {
	n := uvarintLen(uint64(len(raw))) + len(raw)
	if f.size+n > MaxSoftFrameBytes-16 {
		f.flush()
	}
	f.cur = append(f.cur, raw)
	f.size += n
}

func (f *recordFrames) flush() {
	if len(f.cur) == 0 {
		return
	}
	b := make([]byte, 0, f.size+16)
	b = append(b, frameRecords)
	b = binary.AppendUvarint(b, uint64(len(f.cur)))
	for _, raw := range f.cur {
		b = appendBytes(b, raw)
	}
	f.done = append(f.done, b)
	f.cur, f.size = nil, 0
}

func (f *recordFrames) frames() [][]byte {
	f.flush()
	return f.done
}
