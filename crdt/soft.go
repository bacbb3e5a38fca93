package crdt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// Soft state (docs/adr/0010-soft-state.md): what one site alone may write and where only
// the latest value matters (its clusters' health and capacity, its workloads' status)
// travels outside the permanent DAG, as one signed SoftRecord per object. A record
// carries every soft field of its object, so it replaces the one before it; replicas keep
// the latest record only. The writer is the site the key names, and the record is signed
// with that site's key in the charter in force.
//
// Order: a higher Seq wins; equal Seqs (a writer that equivocates) resolve by the larger
// record id, so every correct replica picks alike. A Byzantine site can only write, and
// reorder, its own objects' soft fields.

// SoftRecord is the latest soft fields of one cluster or status object.
type SoftRecord struct {
	Kind   Kind
	Key    string
	Seq    uint64
	Fields []SoftField // sorted by name, unique; none: the writer withdrew the object
	Sig    [64]byte
}

// SoftField is one soft field and its value.
type SoftField struct {
	Name  string
	Value []byte
}

// Limits of soft records (format constants, like limits.go).
const (
	softVersion = 1
	// MaxSoftRecordBytes bounds a cluster record (a field per node's free capacity).
	MaxSoftRecordBytes = 256 << 10
	// MaxSoftStatusBytes bounds a status record.
	MaxSoftStatusBytes = 4 << 10
	// MaxSoftClusters bounds the cluster records of one writer.
	MaxSoftClusters = 4096
	maxSoftFields   = 8192
)

const (
	domainSoft     = "atoll/soft/v1\x00"
	domainSoftSign = "atoll/soft-sign/v1\x00"
)

// softNames are the field names coded in one byte (append only: part of the format).
// Any other name is coded 0 followed by its bytes.
var softNames = [...]string{"", "health", "reason", "k8sVersion", "nodes", "readyNodes", "observed",
	"desired", "ready", "available", "updated", "conditions", "generation", "message"}

var softCodes = func() map[string]byte {
	m := map[string]byte{}
	for i, n := range softNames[1:] {
		m[n] = byte(i + 1)
	}
	return m
}()

// Soft fields by kind. A cluster's labels, taints, region, zone and provider stay in the
// DAG: they change when an operator changes the cluster, not with every pod.
var (
	softClusterFields = fieldSet{
		exact: []string{"health", "reason", "k8sVersion", "nodes", "readyNodes", "observed"},
		maps:  []string{"allocatable/", "available/"},
	}
	// A Job's counts are soft only, from level FormatJobs (format.go): they never were
	// DAG fields.
	// When a workload became unhealthy in the cluster and when its site evicted it from
	// there are soft only, from level FormatFailover.
	// So is the status a stored customization's statusReflection reads of the object there
	// (JSON, at most MaxReflectedBytes).
	softStatusFields = fieldSet{exact: append(slices.Clip(statusFields.exact), "active", "succeeded", "failed", UnhealthySince, EvictedAt, Reflected)}
)

// Soft status fields of level FormatFailover (RFC 3339 times of the writer's clock), and
// of level FormatStatusReflection.
const (
	UnhealthySince = "unhealthySince"
	EvictedAt      = "evictedAt"
	// Reflected is the status a stored customization's statusReflection reads of the
	// object in the cluster, as JSON.
	Reflected = "reflected"
	// MaxReflectedBytes bounds it, within MaxSoftStatusBytes.
	MaxReflectedBytes = 2048
)

// softLevel is the format level that enables a soft field (format.go); a writer writes
// it only under a charter of that level. A reader holds any well-formed field name and
// uses those it knows: a record from a writer whose charter is ahead of the reader's, or
// of a later release, is neither refused nor counted against the writer.
func softLevel(name string) int {
	switch name {
	case "active", "succeeded", "failed":
		return FormatJobs
	case UnhealthySince, EvictedAt:
		return FormatFailover
	case Reflected:
		return FormatStatusReflection
	}
	return 1
}

// IsSoft reports whether a field of a kind is soft state.
func IsSoft(kind Kind, field string) bool {
	switch kind {
	case KindCluster:
		return softClusterFields.has(field)
	case KindStatus:
		return softStatusFields.has(field)
	}
	return false
}

// SoftWriter returns the site that alone may write the soft fields of an object, or "".
func SoftWriter(kind Kind, key string) string {
	var cut [4]int // the positions of the key's slashes
	n := 0
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			if n == len(cut) {
				return ""
			}
			cut[n] = i
			n++
		}
	}
	switch {
	case kind == KindCluster && n == 1:
		return key[:cut[0]]
	case kind == KindStatus && n == 3:
		return key[cut[1]+1 : cut[2]]
	}
	return ""
}

// Writer returns the site that signs the record.
func (rec *SoftRecord) Writer() string { return SoftWriter(rec.Kind, rec.Key) }

// Get returns a field's value.
func (rec *SoftRecord) Get(name string) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(rec.Fields, name, func(f SoftField, n string) int { return strings.Compare(f.Name, n) })
	if !ok {
		return nil, false
	}
	return rec.Fields[i].Value, true
}

func (rec *SoftRecord) appendUnsigned(b []byte) []byte {
	b = append(b, softVersion, byte(rec.Kind))
	b = appendBytes(b, []byte(rec.Key))
	b = binary.AppendUvarint(b, rec.Seq)
	b = binary.AppendUvarint(b, uint64(len(rec.Fields)))
	for _, f := range rec.Fields {
		if c, ok := softCodes[f.Name]; ok {
			b = append(b, c)
		} else {
			b = append(b, 0)
			b = appendBytes(b, []byte(f.Name))
		}
		b = appendBytes(b, f.Value)
	}
	return b
}

// Encode returns the record's canonical bytes, signature included.
func (rec *SoftRecord) Encode() []byte {
	return append(rec.appendUnsigned(make([]byte, 0, 128+len(rec.Key))), rec.Sig[:]...)
}

func softMessage(genesis Hash, unsigned []byte) []byte {
	m := make([]byte, 0, len(domainSoftSign)+32+len(unsigned))
	m = append(m, domainSoftSign...)
	m = append(m, genesis[:]...)
	return append(m, unsigned...)
}

// SignSoft checks rec, signs it for the federation of genesis and returns its encoding.
func SignSoft(genesis Hash, rec *SoftRecord, s *Signer) ([]byte, error) {
	slices.SortFunc(rec.Fields, func(a, b SoftField) int { return strings.Compare(a.Name, b.Name) })
	if err := rec.check(true); err != nil {
		return nil, err
	}
	copy(rec.Sig[:], ed25519.Sign(s.priv, softMessage(genesis, rec.appendUnsigned(nil))))
	b := rec.Encode()
	if err := checkSoftSize(rec.Kind, len(b)); err != nil {
		return nil, err
	}
	return b, nil
}

// VerifySoft checks a record's signature by key for the federation of genesis.
func VerifySoft(genesis Hash, rec *SoftRecord, key PubKey) bool {
	return ed25519.Verify(key[:], softMessage(genesis, rec.appendUnsigned(nil)), rec.Sig[:])
}

// SoftID is the id of an encoded record: the tie-break of equal Seqs.
func SoftID(raw []byte) Hash { return hashWithDomain(domainSoft, raw) }

func checkSoftSize(kind Kind, n int) error {
	limit := MaxSoftRecordBytes
	if kind == KindStatus {
		limit = MaxSoftStatusBytes
	}
	if n > limit {
		return fmt.Errorf("%w: soft %s record of %d bytes exceeds %d", ErrMalformed, kind, n, limit)
	}
	return nil
}

// check validates the record's key, fields and order; strict (a writer's own record)
// also requires every field to be one this release knows.
func (rec *SoftRecord) check(strict bool) error {
	if rec.Kind != KindCluster && rec.Kind != KindStatus {
		return fmt.Errorf("%w: soft records are for clusters and status, not %s", ErrMalformed, rec.Kind)
	}
	if err := checkKey(rec.Kind, rec.Key); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rec.Fields) > maxSoftFields {
		return fmt.Errorf("%w: %d soft fields exceed %d", ErrMalformed, len(rec.Fields), maxSoftFields)
	}
	for i, f := range rec.Fields {
		if i > 0 && rec.Fields[i-1].Name >= f.Name {
			return fmt.Errorf("%w: soft fields not strictly increasing at %q", ErrMalformed, f.Name)
		}
		if !validFieldName(f.Name) || strict && !IsSoft(rec.Kind, f.Name) {
			return fmt.Errorf("%w: %s %q: %q is not a soft field", ErrMalformed, rec.Kind, rec.Key, f.Name)
		}
		if len(f.Value) > MaxValueBytes {
			return fmt.Errorf("%w: %s %q: value of %q exceeds %d bytes", ErrMalformed, rec.Kind, rec.Key, f.Name, MaxValueBytes)
		}
	}
	return nil
}

// DecodeSoft decodes a record and checks its structure and canonical form (not its
// signature: that needs the charter).
func DecodeSoft(b []byte) (*SoftRecord, error) {
	if len(b) > MaxSoftRecordBytes {
		return nil, fmt.Errorf("%w: soft record of %d bytes exceeds %d", ErrMalformed, len(b), MaxSoftRecordBytes)
	}
	rec, err := parseSoft(b)
	if err != nil {
		return nil, err
	}
	if err := rec.check(false); err != nil {
		return nil, err
	}
	if err := checkSoftSize(rec.Kind, len(b)); err != nil {
		return nil, err
	}
	if !bytes.Equal(rec.Encode(), b) {
		return nil, fmt.Errorf("%w: soft record not in canonical form", ErrMalformed)
	}
	return rec, nil
}

// softHead is what holding a record needs of it: not its fields nor its signature.
type softHead struct {
	kind  Kind
	key   string // a slice of the record's bytes: the record is held, so they are too
	seq   uint64
	empty bool // no fields: the writer withdrew the object
}

// parseSoftHead reads a record's head without copying: the key aliases b, which the
// caller must never change again (a held record's bytes are immutable).
func parseSoftHead(b []byte) (softHead, error) {
	d := &decoder{b: b}
	var h softHead
	if v := d.fixed("version", 1); d.err == nil && v[0] != softVersion {
		return h, fmt.Errorf("%w: unknown soft record version %d", ErrMalformed, v[0])
	}
	if k := d.fixed("kind", 1); d.err == nil {
		h.kind = Kind(k[0])
	}
	if key := d.bytes("key", MaxNameBytes); len(key) > 0 {
		h.key = unsafe.String(&key[0], len(key))
	}
	h.seq = d.uvarint("seq")
	h.empty = d.count("fields", maxSoftFields) == 0
	if d.err != nil {
		return h, d.err
	}
	if SoftWriter(h.kind, h.key) == "" {
		return h, fmt.Errorf("%w: %s key %q names no writer", ErrMalformed, h.kind, h.key)
	}
	return h, nil
}

// parseSoft reads a record's fields without the checks of DecodeSoft: for records a
// replica holds, which passed them when they arrived (every read of a cluster or status
// decodes one).
func parseSoft(b []byte) (*SoftRecord, error) {
	d := &decoder{b: b}
	rec := &SoftRecord{}
	if v := d.fixed("version", 1); d.err == nil && v[0] != softVersion {
		return nil, fmt.Errorf("%w: unknown soft record version %d", ErrMalformed, v[0])
	}
	if k := d.fixed("kind", 1); d.err == nil {
		rec.Kind = Kind(k[0])
	}
	rec.Key = string(d.bytes("key", MaxNameBytes))
	rec.Seq = d.uvarint("seq")
	if n := d.count("fields", maxSoftFields); n > 0 {
		rec.Fields = make([]SoftField, n)
		for i := range rec.Fields {
			c := d.fixed("field code", 1)
			if d.err != nil {
				break
			}
			switch {
			case c[0] == 0:
				rec.Fields[i].Name = string(d.bytes("field", MaxNameBytes))
			case int(c[0]) < len(softNames):
				rec.Fields[i].Name = softNames[c[0]]
			default:
				d.fail("unknown field code %d", c[0])
			}
			rec.Fields[i].Value = d.bytes("value", MaxValueBytes)
		}
	}
	copy(rec.Sig[:], d.fixed("signature", 64))
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after soft record", ErrMalformed, len(b)-d.off)
	}
	return rec, nil
}

// softField returns the value of one field of a held record, or nil: a scan of its bytes
// that copies and allocates nothing (held records passed DecodeSoft when they arrived).
func softField(raw []byte, name string) []byte {
	d := &decoder{b: raw}
	d.fixed("version", 1)
	d.fixed("kind", 1)
	d.bytes("key", MaxNameBytes)
	d.uvarint("seq")
	n := d.count("fields", maxSoftFields)
	for range n {
		c := d.fixed("field code", 1)
		if d.err != nil {
			return nil
		}
		var got string
		switch {
		case c[0] == 0:
			if b := d.bytes("field", MaxNameBytes); len(b) > 0 {
				got = unsafe.String(&b[0], len(b))
			}
		case int(c[0]) < len(softNames):
			got = softNames[c[0]]
		default:
			return nil
		}
		v := d.bytes("value", MaxValueBytes)
		if d.err != nil {
			return nil
		}
		if got == name {
			return v
		}
	}
	return nil
}
