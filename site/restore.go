package site

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"atoll/site/store"
)

// ErrSiteRunning is returned, wrapped, by Restore while the site runs.
var ErrSiteRunning = errors.New("the site is running")

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Force replaces a data file whose changes descend from another genesis than the
	// backup's. Nothing forces a backup that does not load.
	Force bool
	// Now names the kept file: atoll.db.before-restore-<Now in UTC, 20060102T150405Z>.
	Now time.Time
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	Backup BackupInfo // the file now in place
	// Kept is where the replaced data file now is; empty if there was none.
	Kept string
	// ReplacedErr, if not nil, is why the replaced data file did not load as the site's:
	// damage (a reason to restore), or, with Force, another federation's changes.
	ReplacedErr error
}

// Restore replaces the data file of a stopped site with a verified copy of the backup at
// from. It refuses, with ErrSiteRunning, while the site's API answers or its data file is
// locked; it refuses a backup that VerifyBackup rejects, and, unless opt.Force, a data file
// of another federation than the backup's. On any refusal nothing in the data dir is
// touched.
//
// Otherwise it copies the backup into the data dir, fsyncs and verifies the copy again,
// links the current data file to atoll.db.before-restore-<time>, and renames the copy over
// atoll.db: at every instant atoll.db is the old file or the new one. The site, started
// again, fetches what happened since the backup from its peers by anti-entropy.
//
// A replica of a site under Raft is refused: the file holds its Raft term and vote too,
// and rolling those back could let it vote twice in one term.
func Restore(ctx context.Context, cfg Config, from string, opt RestoreOptions) (RestoreResult, error) {
	var res RestoreResult
	if cfg.Replica != nil {
		return res, fmt.Errorf("site %q runs as replica %q under Raft: restoring its data file would roll back its Raft term and vote; restore serves sites of one replica", cfg.Name, cfg.Replica.ID)
	}
	if err := checkAPIDown(ctx, cfg); err != nil {
		return res, err
	}
	dst := cfg.DataFile()
	rep, key, err := siteReplica(cfg)
	if err != nil {
		return res, err
	}
	cur, err := openSiteStore(cfg, dst, store.Options{ReadOnly: true, Timeout: cfg.WithDefaults().Tuning.RestoreLockWait, Key: key})
	switch {
	case errors.Is(err, store.ErrLocked):
		return res, fmt.Errorf("%w: its data file %s is locked by another process; stop it first", ErrSiteRunning, dst)
	case errors.Is(err, os.ErrNotExist):
	case errors.Is(err, store.ErrOtherKey) && !opt.Force:
		return res, fmt.Errorf("the site's data file %s is encrypted under another key than the site's (another site's or another federation's); restore with force to replace it (it is kept beside)", dst)
	case err != nil:
		res.ReplacedErr = err
	default:
		defer cur.Close() // holding the shared lock keeps a site from starting on it meanwhile
	}
	if same, err := sameFile(from, dst); err != nil || same {
		if err == nil {
			err = fmt.Errorf("backup %s is the site's data file itself", from)
		}
		return res, err
	}

	info, err := VerifyBackup(cfg, from)
	if err != nil {
		return res, fmt.Errorf("backup %s does not load: %w", from, err)
	}
	if cur != nil {
		curInfo, err := verifyStore(cur, rep, dst)
		switch {
		case errors.Is(err, ErrOtherFederation) && !opt.Force:
			return res, fmt.Errorf("the site's data file %s holds changes of another federation (genesis %.16s) than the backup (genesis %.16s); restore with force to replace it (it is kept beside)", dst, curInfo.Genesis, info.Genesis)
		case err != nil:
			res.ReplacedErr = err
		}
	}

	tmp, err := copyIn(from, filepath.Dir(dst))
	if err != nil {
		return res, err
	}
	defer os.Remove(tmp) // fails harmlessly once renamed
	placed, err := VerifyBackup(cfg, tmp)
	if err == nil && (placed.Digest != info.Digest || placed.Changes != info.Changes) {
		err = fmt.Errorf("it changed while it was copied (%d changes, then %d)", info.Changes, placed.Changes)
	}
	if err != nil {
		return res, fmt.Errorf("backup %s: the copy in the data dir does not load: %w", from, err)
	}
	if cur != nil || res.ReplacedErr != nil {
		res.Kept = dst + ".before-restore-" + opt.Now.UTC().Format("20060102T150405Z")
		if err := os.Link(dst, res.Kept); err != nil {
			return res, fmt.Errorf("keeping the data file: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := store.SyncDir(filepath.Dir(dst)); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	placed.Path = dst
	res.Backup = placed
	return res, nil
}

// checkAPIDown fails with ErrSiteRunning if the site's API socket answers.
func checkAPIDown(ctx context.Context, cfg Config) error {
	c := NewClient(cfg.SocketPath())
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.WithDefaults().Tuning.RestoreProbe)
	defer cancel()
	if code, _ := c.do(ctx, http.MethodGet, "/healthz", nil, "", nil); code != 0 {
		return fmt.Errorf("%w: its API answers at %s; stop it first", ErrSiteRunning, cfg.SocketPath())
	}
	return nil
}

// sameFile reports whether a and b are the same file; a missing b is not.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, fmt.Errorf("backup: %w", err)
	}
	fb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// copyIn copies the file at from into a new file in dir, created only readable by its
// owner, and fsyncs it. It returns the new file's path.
func copyIn(from, dir string) (string, error) {
	src, err := os.Open(from)
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".atoll.db.restore-*")
	if err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	_, err = io.Copy(tmp, src)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("copying backup %s into %s: %w", from, dir, err)
	}
	return tmp.Name(), nil
}
