// Package store keeps a site's accepted changes durably in one bbolt file.
//
// A site appends each change it accepts, after the changes it depends on, and
// loads them all back in the same order when it restarts. The store knows
// nothing about what a change means: a Record is a 32-byte id and opaque data.
//
// # Layout
//
// One bbolt file per site holds these buckets:
//
//	meta          "format" -> "atoll-store-v2"; "key-check" -> seal(empty);
//	              "compact" -> 1 while freed pages may hold a replaced record
//	changes       8-byte big-endian sequence -> seal(32-byte id || data)
//	index         32-byte id -> 8-byte big-endian sequence
//	raft-log      8-byte big-endian index -> seal(entry)     (site replicas)
//	raft-stable   Raft's term and vote                         (site replicas)
//	unreplicated  32-byte id -> empty                          (site replicas)
//	audit         "type/..." -> JSON audit record
//
// # Sealed records
//
// Changes hold bodies (Secrets among them) and the Raft log holds changes and
// member kubeconfigs, so their values are sealed (seal.go):
//
//	version 1 || nonce(12) || AES-256-GCM(key, nonce, plaintext, aad)
//
// with aad = len(bucket) || bucket || record key, so a record moved to another
// key or bucket does not open. Options.Key is the site's data key,
// DeriveDataKey(identity seed, genesis id). The key check in meta lets Open
// refuse a file of another key (ErrOtherKey) before it touches a record. The
// other buckets hold ids, Raft's term and vote, and audit records (sites,
// clusters, workload names), in clear. Load opens, and so authenticates, every
// record before it hands out the first one.
//
// Format 1 ("atoll-store-v1", releases before ADR 0007) held every value in
// clear. Open migrates such a file (migrate.go): it writes the key check, seals
// the values of changes and raft-log in place, 10,000 records per transaction,
// then copies the live pages into a new file with format 2 and renames it over
// the old one, so the freed pages that still held records in clear go with the
// old inode. Interrupted at any point, the file is still format 1, every record
// clear or sealed, and the next Open resumes: a record that opens is done. A
// read-only Open reads a format-1 file as it is.
//
// The sequence comes from the changes bucket's own counter, so it only grows
// and Load, which walks changes in key order, returns records in append order.
// Because the caller appends a change only after its dependencies, append
// order is a causal order, and replaying it needs no sorting.
//
// The index makes Append idempotent (an id already stored is skipped, inside
// the same transaction) and lets Put and Save replace one record's data in
// place, keeping its sequence, when a sealed body arrives after its header or
// when the site may no longer hold it (a charter change took it out of the
// body's bound) and stores the header only. bbolt frees the old value's pages
// without clearing them, so a replacement by shorter data sets "compact" in
// meta, and the next Open that may write copies the live pages into a new file
// renamed over the old one, as the migration does.
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
// a bbolt database, is shorter than its own meta page says, has another format
// value or is sealed under another key, with an error naming the path. Load
// checks every record and index entry before it hands out the first record,
// and names the file and the sequence number of the first bad one:
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
