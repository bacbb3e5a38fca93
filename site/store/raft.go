package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Raft keeps a site's Raft log and stable store (current term, vote) in the site's one
// data file, beside the changes. It implements raft.LogStore and raft.StableStore, so a
// site's replicas need no second file (and no raft-boltdb, whose go-metrics conflicts
// with the raft and memberlist we use).
type Raft struct{ s *Store }

var (
	_ raft.LogStore    = Raft{}
	_ raft.StableStore = Raft{}

	bucketRaftLog    = []byte("raft-log")
	bucketRaftStable = []byte("raft-stable")
)

// errKeyNotFound is what raft expects from StableStore.Get for a missing key: it
// compares the message, not the value.
var errKeyNotFound = errors.New("not found")

// Raft returns the Raft stores of s.
func (s *Store) Raft() Raft { return Raft{s} }

func raftKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

const raftLogVersion = 1

// encodeLog writes a log entry: version, term, type, data, extensions, appended-at.
func encodeLog(l *raft.Log) []byte {
	b := []byte{raftLogVersion}
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	b = append(b, l.Extensions...)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	return binary.AppendVarint(b, at)
}

func decodeLog(index uint64, b []byte, l *raft.Log) error {
	r := bytes.NewReader(b)
	fail := func(what string) error { return fmt.Errorf("raft log entry %d: bad %s", index, what) }
	if v, err := r.ReadByte(); err != nil || v != raftLogVersion {
		return fail("version")
	}
	term, err := binary.ReadUvarint(r)
	if err != nil {
		return fail("term")
	}
	typ, err := r.ReadByte()
	if err != nil {
		return fail("type")
	}
	field := func(what string) ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(r.Len()) {
			return nil, fail(what)
		}
		if n == 0 {
			return nil, nil
		}
		out := make([]byte, n)
		_, _ = r.Read(out)
		return out, nil
	}
	data, err := field("data")
	if err != nil {
		return err
	}
	ext, err := field("extensions")
	if err != nil {
		return err
	}
	at, err := binary.ReadVarint(r)
	if err != nil || r.Len() != 0 {
		return fail("appended-at")
	}
	*l = raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	return nil
}

func (r Raft) view(fn func(log, stable *bolt.Bucket) error) error {
	return r.s.wrap(r.s.guard(nil, func() error {
		return r.s.db.View(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketRaftLog), tx.Bucket(bucketRaftStable)) })
	}))
}

func (r Raft) update(fn func(log, stable *bolt.Bucket) error) error {
	return r.s.wrap(r.s.guard(nil, func() error {
		return r.s.db.Update(func(tx *bolt.Tx) error {
			log, err := tx.CreateBucketIfNotExists(bucketRaftLog)
			if err != nil {
				return err
			}
			stable, err := tx.CreateBucketIfNotExists(bucketRaftStable)
			if err != nil {
				return err
			}
			return fn(log, stable)
		})
	}))
}

// FirstIndex returns the first index written, 0 for none.
func (r Raft) FirstIndex() (uint64, error) { return r.edge(true) }

// LastIndex returns the last index written, 0 for none.
func (r Raft) LastIndex() (uint64, error) { return r.edge(false) }

func (r Raft) edge(first bool) (uint64, error) {
	var idx uint64
	err := r.view(func(log, _ *bolt.Bucket) error {
		if log == nil {
			return nil
		}
		c := log.Cursor()
		k, _ := c.Last()
		if first {
			k, _ = c.First()
		}
		if k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// GetLog reads the entry at index into l; raft.ErrLogNotFound if there is none.
func (r Raft) GetLog(index uint64, l *raft.Log) error {
	var b []byte
	err := r.view(func(log, _ *bolt.Bucket) error {
		if log != nil {
			b = bytes.Clone(log.Get(raftKey(index))) // opened outside the transaction
		}
		return nil
	})
	if err != nil {
		return err
	}
	if b == nil {
		return raft.ErrLogNotFound
	}
	key := raftKey(index)
	b, err = r.s.open(bucketRaftLog, key, b)
	if err != nil {
		return r.s.wrap(fmt.Errorf("raft log entry %d: %w", index, err))
	}
	return r.s.wrap(decodeLog(index, b, l))
}

// StoreLog stores one entry.
func (r Raft) StoreLog(l *raft.Log) error { return r.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores entries in one transaction: all or none, durable when it returns.
func (r Raft) StoreLogs(logs []*raft.Log) error {
	return r.update(func(log, _ *bolt.Bucket) error {
		for _, l := range logs {
			key := raftKey(l.Index)
			if err := log.Put(key, r.s.seal(bucketRaftLog, key, encodeLog(l))); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteRange deletes the entries from min to max, inclusive.
func (r Raft) DeleteRange(min, max uint64) error {
	return r.update(func(log, _ *bolt.Bucket) error {
		c := log.Cursor()
		for k, _ := c.Seek(raftKey(min)); k != nil && binary.BigEndian.Uint64(k) <= max; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Set stores a stable value.
func (r Raft) Set(key, val []byte) error {
	return r.update(func(_, stable *bolt.Bucket) error { return stable.Put(key, val) })
}

// Get returns a stable value, or an error reading "not found" as raft expects.
func (r Raft) Get(key []byte) ([]byte, error) {
	var v []byte
	err := r.view(func(_, stable *bolt.Bucket) error {
		if stable != nil {
			v = bytes.Clone(stable.Get(key))
		}
		return nil
	})
	if err == nil && v == nil {
		return nil, errKeyNotFound
	}
	return v, err
}

// SetUint64 stores a stable number.
func (r Raft) SetUint64(key []byte, val uint64) error {
	return r.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns a stable number, 0 with "not found" if it was never set.
func (r Raft) GetUint64(key []byte) (uint64, error) {
	v, err := r.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, r.s.wrap(fmt.Errorf("raft stable value %q: %d bytes, want 8", key, len(v)))
	}
	return binary.BigEndian.Uint64(v), nil
}
