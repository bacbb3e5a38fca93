// Package store keeps a site's accepted changes durably in one bbolt file.
//
// A site appends each change it accepts, after the changes it depends on, and
// loads them all back in the same order when it restarts. The store knows
// nothing about what a change means: a Record is a 32-byte id and opaque data.
//
// # Layout
//
// One bbolt file per site holds three buckets:
//
//	meta     "format" -> "atoll-store-v1"
//	changes  8-byte big-endian sequence -> 32-byte id || data
//	index    32-byte id -> 8-byte big-endian sequence
//
// The sequence comes from the changes bucket's own counter, so it only grows
// and Load, which walks changes in key order, returns records in append order.
// Because the caller appends a change only after its dependencies, append
// order is a causal order, and replaying it needs no sorting.
//
// The index makes Append idempotent (an id already stored is skipped, inside
// the same transaction) and lets Put replace one record's data in place,
// keeping its sequence, when a sealed body arrives after its header.
//
// # Durability
//
// Append and Put each run one bbolt read-write transaction. bbolt commits by
// writing the new pages, fsyncing them, then writing and fsyncing the meta
// page that makes them visible, so when Append returns nil the records survive
// a process crash or power loss: they are acknowledged. A crash before that
// leaves the previous meta page in charge and none of the batch is visible;
// a batch is never half stored.
//
// Options.NoSync skips both fsyncs. It exists for the deterministic simulator,
// whose simulated crashes kill the process but keep the OS page cache; a real
// site must never set it.
//
// # Damaged files
//
// Open and Load never panic on a damaged file. Open rejects a file that is not
// a bbolt database, is shorter than its own meta page says, or has another
// format value, with an error naming the path. Load checks every record and
// index entry before it hands out the first record, and names the file and
// the sequence number of the first bad one:
//
//	store: /var/lib/atoll/site.db: record 17: truncated (12 bytes)
//
// bbolt can panic, or fault on its memory map, when it follows a corrupt page.
// The store turns such a panic into an error and then refuses further use of
// that Store: the file must be restored from a Backup.
//
// A Store is safe for concurrent use. bbolt's file lock keeps a second process
// (or a second Open) from using the same file; Open waits Options.Timeout for
// it.
//
// # Backups
//
// Backup copies the file from one read transaction while the site runs; the
// copy is a store like any other. Options.ReadOnly opens a copy, or a file a
// site may be holding, without writing it: under a shared lock, which fails
// with ErrLocked while a writer holds the file.
package store
