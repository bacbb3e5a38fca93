package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// format is the value of the "format" key in the meta bucket. A file with
// another value is refused by Open.
const format = "atoll-store-v1"

// defaultTimeout is how long Open waits for the file lock when
// Options.Timeout is 0.
const defaultTimeout = time.Second

var (
	bucketMeta    = []byte("meta")
	bucketChanges = []byte("changes")
	bucketIndex   = []byte("index")
	keyFormat     = []byte("format")
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
}

// ErrLocked is returned, wrapped, by Open when another Store (in this or
// another process) held the file's lock for all of Options.Timeout.
var ErrLocked = errors.New("file lock still held by another Store")

// Store is one site's change store, backed by one bbolt file.
// Its methods are safe for concurrent use.
type Store struct {
	path string
	db   *bolt.DB
	file *os.File // the file bbolt opened, to release its lock if bbolt is broken

	mu     sync.Mutex
	broken error // set once bbolt panicked; every later call returns it
	closed bool
}

// Open opens the store at path, creating the file and its buckets if the
// file does not exist or is empty. It fails, with an error naming path, if the
// file is locked for longer than opt.Timeout, is not a bbolt database, is
// shorter than its meta page says, or holds another format.
//
// If bbolt panics while opening a damaged file, Open returns an error but
// cannot reach bbolt's memory map to release it; the map keeps the file
// locked until the process exits. Restore a damaged file by renaming a good
// copy over it (a new inode, so a new lock), not by rewriting it in place.
func Open(path string, opt Options) (*Store, error) {
	if opt.Timeout < 0 {
		return nil, fmt.Errorf("store: %s: negative lock timeout %v", path, opt.Timeout)
	}
	timeout := opt.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	s := &Store{path: path}
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
		db, err := bolt.Open(path, 0o600, bopt)
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("%w after %v: %w", ErrLocked, timeout, err)
		}
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		s.db = db
		var fresh bool
		err = db.View(func(tx *bolt.Tx) error {
			var err error
			fresh, err = s.checkFile(tx)
			return err
		})
		if err != nil || !fresh {
			return err
		}
		if opt.ReadOnly {
			return errors.New("not an atoll store: a bbolt file without buckets")
		}
		return db.Update(create)
	})
	if err != nil {
		s.abandon()
		return nil, s.wrap(err)
	}
	return s, nil
}

// checkFile checks the file against its own size and its format. It
// reports a file without buckets, which is new, as fresh.
func (s *Store) checkFile(tx *bolt.Tx) (fresh bool, err error) {
	info, err := s.file.Stat()
	if err != nil {
		return false, err
	}
	if info.Size() < tx.Size() {
		return false, fmt.Errorf("truncated: file is %d bytes, its meta page says %d", info.Size(), tx.Size())
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			return fmt.Errorf("not an atoll store: bucket %q but no %q bucket", name, bucketMeta)
		})
		return err == nil, err
	}
	switch f := meta.Get(keyFormat); {
	case f == nil:
		return false, fmt.Errorf("no %q key in the %q bucket", keyFormat, bucketMeta)
	case !bytes.Equal(f, []byte(format)):
		return false, fmt.Errorf("format %q, want %q", f, format)
	}
	for _, name := range [][]byte{bucketChanges, bucketIndex} {
		if tx.Bucket(name) == nil {
			return false, fmt.Errorf("missing bucket %q", name)
		}
	}
	return false, nil
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
func create(tx *bolt.Tx) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte(format)); err != nil {
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
