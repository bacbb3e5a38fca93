package store

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The value of the "format" key in the meta bucket. Open refuses any other.
const (
	// formatClear is the format of the releases before ADR 0007: records in clear.
	// Open migrates such a file to formatSealed; a read-only Store reads it as it is.
	formatClear = "atoll-store-v1"
	// formatSealed seals the values of changes and raft-log under the data key.
	formatSealed = "atoll-store-v2"
)

// migrateBatch is how many records a migration rewrites per transaction.
const migrateBatch = 10_000

// defaultTimeout is how long Open waits for the file lock when
// Options.Timeout is 0.
const defaultTimeout = time.Second

var (
	bucketMeta    = []byte("meta")
	bucketChanges = []byte("changes")
	bucketIndex   = []byte("index")
	keyFormat     = []byte("format")
	// keyCheck holds an empty plaintext sealed under the data key, so that Open tells
	// a file of another key at once, even an empty one.
	keyCheck = []byte("key-check")
)

// Options tunes Open. The zero value is what a real site uses.
type Options struct {
	// NoSync skips fsync on commit: for the deterministic simulator only (a
	// simulated process crash keeps the OS page cache). Default false.
	NoSync bool
	// Timeout waits for the file lock (bbolt Options.Timeout); 0 means
	// 1s. Negative is an error.
	Timeout time.Duration
	// ReadOnly opens the file without writing it, under a shared lock that
	// any number of readers may hold but a writer's lock excludes: for
	// checking a copy, or whether a running site holds the file. A missing,
	// empty or bucketless file is then an error instead of a new store, and
	// Append and Put fail. Default false.
	ReadOnly bool
	// Key seals and opens the records that can hold a body or a kubeconfig: required.
	// A site derives it from its identity (DeriveDataKey).
	Key *DataKey
	// PreviousKey, if set, is the data key of the site's identity before a key
	// rotation. A file sealed under it, in whole or in part, opens: a writer
	// re-seals it under Key first (rekey.go), a reader reads it as it is.
	PreviousKey *DataKey

	// For tests of the migration: records per transaction (0 means migrateBatch), and
	// a hook called after each committed batch, whose error stops the migration.
	migrateBatch int
	afterBatch   func(batches int) error
}

// ErrLocked is returned, wrapped, by Open when another Store (in this or
// another process) held the file's lock for all of Options.Timeout.
var ErrLocked = errors.New("file lock still held by another Store")

// ErrOtherKey is returned, wrapped, by Open for a file sealed under another data key:
// another site's, or one derived from another identity key or genesis.
var ErrOtherKey = errors.New("sealed under another data key")

// Store is one site's change store, backed by one bbolt file.
// Its methods are safe for concurrent use.
type Store struct {
	path string
	key  *DataKey
	prev *DataKey // Options.PreviousKey; nil if none
	// rekeying is set by checkFile for a file whose key check opens under prev, not
	// key: a rotation whose re-sealing has not ended.
	rekeying bool
	// sealed is false only for a format-1 file opened read-only: its records are
	// read as they are.
	sealed bool
	db     *bolt.DB
	file   *os.File // the file bbolt opened, to release its lock if bbolt is broken

	mu     sync.Mutex
	broken error // set once bbolt panicked; every later call returns it
	closed bool
}

// Open opens the store at path, creating the file and its buckets if the
// file does not exist or is empty. It fails, with an error naming path, if the
// file is locked for longer than opt.Timeout, is not a bbolt database, is
// shorter than its meta page says, holds another format, or is sealed under
// another key than opt.Key (ErrOtherKey).
//
// A format-1 file, of the releases that stored records in clear, is migrated
// first: see migrate. Opened read-only, it is read in clear instead. A file
// whose freed pages may hold a replaced record's bytes (Save) is compacted.
//
// If bbolt panics while opening a damaged file, Open returns an error but
// cannot reach bbolt's memory map to release it; the map keeps the file
// locked until the process exits. Restore a damaged file by renaming a good
// copy over it (a new inode, so a new lock), not by rewriting it in place.
func Open(path string, opt Options) (*Store, error) {
	if opt.Timeout < 0 {
		return nil, fmt.Errorf("store: %s: negative lock timeout %v", path, opt.Timeout)
	}
	if opt.Key == nil {
		return nil, fmt.Errorf("store: %s: no data key", path)
	}
	timeout := opt.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	s := &Store{path: path, key: opt.Key, prev: opt.PreviousKey, sealed: true}
	bopt := &bolt.Options{
		Timeout:  timeout,
		NoSync:   opt.NoSync,
		ReadOnly: opt.ReadOnly,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			if err == nil && s.file == nil {
				s.file = f // the first file bbolt opens is the database, which it locks
				if opt.ReadOnly {
					err = checkNotEmpty(f) // bbolt would try to write a new file's first pages
				}
			}
			return f, err
		},
	}
	err := s.guardOpen(func() error {
		f, err := s.openDB(bopt)
		switch {
		case err != nil:
			return err
		case f == "" && opt.ReadOnly:
			return errors.New("not an atoll store: a bbolt file without buckets")
		case f == "":
			return s.db.Update(s.create)
		case f == formatClear && s.rekeying:
			return fmt.Errorf("%w: a format-1 file whose migration began under the previous key: open it with that key first", ErrOtherKey)
		case f == formatClear && opt.ReadOnly:
			s.sealed = false
			return nil
		case f == formatClear:
			if err := s.migrate(cmp.Or(opt.migrateBatch, migrateBatch), opt.afterBatch); err != nil {
				return err
			}
			return s.compactAndReopen(bopt, opt.NoSync, "migrating to format 2")
		case s.rekeying && !opt.ReadOnly:
			if err := s.rekey(cmp.Or(opt.migrateBatch, migrateBatch), opt.afterBatch); err != nil {
				return err
			}
			return s.compactAndReopen(bopt, opt.NoSync, "re-sealing under the new key")
		case !opt.ReadOnly && s.compactDue():
			if err := s.compact(opt.NoSync, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyCompact) }); err != nil {
				return err
			}
			s.file = nil // the compacted file, a new inode, is the one to lock
			_, err = s.openDB(bopt)
			return err
		}
		return nil
	})
	if err != nil {
		s.abandon()
		return nil, s.wrap(err)
	}
	return s, nil
}

// openDB opens the bbolt file and checks it; it returns its format.
func (s *Store) openDB(bopt *bolt.Options) (string, error) {
	db, err := bolt.Open(s.path, 0o600, bopt)
	if errors.Is(err, berrors.ErrTimeout) {
		return "", fmt.Errorf("%w after %v: %w", ErrLocked, bopt.Timeout, err)
	}
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	s.db = db
	var f string
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		f, err = s.checkFile(tx)
		return err
	})
	return f, err
}

// checkFile checks the file against its own size, its format and, sealed, its
// key. It returns the format, "" for a file without buckets, which is new.
func (s *Store) checkFile(tx *bolt.Tx) (string, error) {
	info, err := s.file.Stat()
	if err != nil {
		return "", err
	}
	if info.Size() < tx.Size() {
		return "", fmt.Errorf("truncated: file is %d bytes, its meta page says %d", info.Size(), tx.Size())
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return "", tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			return fmt.Errorf("not an atoll store: bucket %q but no %q bucket", name, bucketMeta)
		})
	}
	f := string(meta.Get(keyFormat))
	switch {
	case meta.Get(keyFormat) == nil:
		return "", fmt.Errorf("no %q key in the %q bucket", keyFormat, bucketMeta)
	case f != formatClear && f != formatSealed:
		return "", fmt.Errorf("format %q, want %q (or %q, which Open migrates)", f, formatSealed, formatClear)
	}
	for _, name := range [][]byte{bucketChanges, bucketIndex} {
		if tx.Bucket(name) == nil {
			return "", fmt.Errorf("missing bucket %q", name)
		}
	}
	c := meta.Get(keyCheck)
	if c == nil && f == formatSealed {
		return "", fmt.Errorf("no %q key in the %q bucket", keyCheck, bucketMeta)
	}
	if c != nil {
		// A format-1 file has a key check once its migration has begun.
		if _, err := s.key.Open(string(bucketMeta), keyCheck, c); err != nil {
			if s.prev == nil || f != formatSealed && f != formatClear {
				return "", fmt.Errorf("%w: its key check %w", ErrOtherKey, err)
			}
			if _, perr := s.prev.Open(string(bucketMeta), keyCheck, c); perr != nil {
				return "", fmt.Errorf("%w, and not under the previous key either: its key check %w", ErrOtherKey, err)
			}
			s.rekeying = true
		}
	}
	return f, nil
}

// checkNotEmpty refuses an empty file, which only a writer may turn into a
// store.
func checkNotEmpty(f *os.File) error {
	info, err := f.Stat()
	if err == nil && info.Size() == 0 {
		err = errors.New("empty file, not an atoll store")
	}
	return err
}

// create makes the buckets of a new store.
func (s *Store) create(tx *bolt.Tx) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte(formatSealed)); err != nil {
		return err
	}
	if err := meta.Put(keyCheck, s.key.Seal(string(bucketMeta), keyCheck, nil)); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketChanges, bucketIndex} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of records stored.
func (s *Store) Len() (int, error) {
	var n int
	err := s.guard(nil, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			n = tx.Bucket(bucketChanges).Stats().KeyN
			return nil
		})
	})
	return n, s.wrap(err)
}

// Backup writes a consistent copy of the whole file to w while the store
// stays open for reads and writes, and returns the number of bytes written.
// The copy opens as a store with the same records.
//
// The copy is one bbolt read transaction: while it runs, a write that must
// grow the file's memory map waits for it, so w should not be slower than a
// local disk or pipe.
func (s *Store) Backup(w io.Writer) (int64, error) {
	return s.BackupTo(func(int64) io.Writer { return w })
}

// BackupTo is Backup for a caller that needs the size first (an HTTP
// Content-Length): it calls start once, before the first byte, with the exact
// number of bytes the copy will have, and writes them to the writer start
// returns.
func (s *Store) BackupTo(start func(size int64) io.Writer) (int64, error) {
	var n int64
	var inWrite bool
	err := s.guard(&inWrite, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			inWrite = true
			w := start(tx.Size()) // bbolt's WriteTo writes exactly tx.Size() bytes
			inWrite = false
			var err error
			n, err = tx.WriteTo(callerWriter{w, &inWrite})
			return err
		})
	})
	if err != nil {
		return n, s.wrap(fmt.Errorf("backup: %w", err))
	}
	return n, nil
}

// Close releases the file and its lock. Further calls fail. Closing a closed
// Store returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.broken != nil {
		// bbolt panicked and may hold its own locks: do not call into it,
		// only release the file (and with it the file lock).
		return s.wrap(s.file.Close())
	}
	return s.wrap(s.db.Close())
}

// callerWriter marks calls into the caller's writer, so that guard lets a
// panic there through.
type callerWriter struct {
	w  io.Writer
	in *bool
}

func (c callerWriter) Write(p []byte) (int, error) {
	*c.in = true
	n, err := c.w.Write(p)
	*c.in = false
	return n, err
}

// abandon releases what a failed Open holds: all of it, unless bbolt
// panicked before returning its DB, when only the file descriptor is
// reachable.
func (s *Store) abandon() {
	switch {
	case s.db != nil && s.broken == nil:
		_ = s.db.Close()
	case s.file != nil:
		_ = s.file.Close()
	}
}

// errClosed is returned by every call on a closed Store.
var errClosed = errors.New("store closed")

// wrap prefixes err with the package and the file path.
func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", s.path, err)
}
