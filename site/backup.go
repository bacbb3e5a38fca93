package site

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"atoll/crdt"
	"atoll/site/store"
)

// DataFile is the site's one data file, <dataDir>/atoll.db.
func (c Config) DataFile() string { return filepath.Join(c.Path(c.DataDir), "atoll.db") }

// handleBackup streams a consistent copy of the data file (GET /v1/backup), with its
// exact size as Content-Length. The store is safe for concurrent use, so the copy runs
// beside writes without Site.mu.
func (s *Site) handleBackup(w http.ResponseWriter, _ *http.Request) {
	started := false
	n, err := s.st.BackupTo(func(size int64) io.Writer {
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		started = true
		return w
	})
	switch {
	case err == nil:
		s.log.Info("backup sent", "bytes", n)
	case !started:
		writeErr(w, http.StatusInternalServerError, err)
	default:
		// The headers are gone: the body falls short of Content-Length, which the
		// client reports.
		s.log.Warn("backup cut short", "bytes", n, "err", err)
	}
}

// Backup streams a consistent copy of the site's data file into w and returns its size.
// A copy that arrives short of the size the site announced is an error. Only ctx bounds
// it: a large file may take longer than the client's usual timeout.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://site/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("site api %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		return 0, fmt.Errorf("site api GET /v1/backup: %s", e.Error)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, fmt.Errorf("site api GET /v1/backup: after %d of %d bytes: %w", n, resp.ContentLength, err)
	}
	return n, nil
}

// BackupInfo describes a data file that VerifyBackup loaded.
type BackupInfo struct {
	Path    string
	Bytes   int64
	Changes int    // changes held, the genesis included, as State.Changes counts them
	Digest  string // digest of the state they make, as State.Digest shows it
	Genesis string // id of the genesis change the changes descend from (hex)
}

// ErrOtherFederation is returned, wrapped, by VerifyBackup for a data file whose changes
// descend from another genesis change than the site's.
var ErrOtherFederation = errors.New("changes of another federation")

// VerifyBackup opens a data file read-only and loads every change into a replica built
// from the site's genesis and identity, as Open does, and checks that each record holds
// the change its id names. It fails, naming path and what is wrong, on a file that is
// not a store, is truncated or corrupt, or holds a change that does not load; on changes
// of another federation, it fails with ErrOtherFederation and BackupInfo.Genesis names
// their genesis.
func VerifyBackup(cfg Config, path string) (BackupInfo, error) {
	rep, key, err := siteReplica(cfg)
	if err != nil {
		return BackupInfo{Path: path}, err
	}
	st, err := openSiteStore(cfg, path, store.Options{ReadOnly: true, Key: key})
	if err != nil {
		return BackupInfo{Path: path}, err
	}
	defer st.Close()
	return verifyStore(st, rep, path)
}

// siteReplica builds an empty replica of the site, as Open does, and derives the
// site's data key.
func siteReplica(cfg Config) (*crdt.Replica, *store.DataKey, error) {
	signer, err := LoadKeyFile(cfg.Path(cfg.Identity))
	if err != nil {
		return nil, nil, err
	}
	genesis, err := os.ReadFile(cfg.Path(cfg.Genesis))
	if err != nil {
		return nil, nil, fmt.Errorf("genesis: %w", err)
	}
	rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: signer.Public()})
	if err != nil {
		return nil, nil, fmt.Errorf("genesis %s: %w", cfg.Path(cfg.Genesis), err)
	}
	key, err := DataKey(signer, rep.Genesis())
	if err != nil {
		return nil, nil, err
	}
	return rep, key, nil
}

// DataKey is the key a site's data file and kubeconfigs are sealed under
// (docs/adr/0007-data-at-rest.md): derived from its identity's seed and its
// federation's genesis id, the same at every replica of the site.
func DataKey(signer *crdt.Signer, genesis crdt.Hash) (*store.DataKey, error) {
	return store.DeriveDataKey(signer.PrivateKey().Seed(), genesis)
}

// openSiteStore opens a data file of the site, or a copy of one, naming the site when
// the file is sealed under another key.
func openSiteStore(cfg Config, path string, opt store.Options) (*store.Store, error) {
	st, err := store.Open(path, opt)
	if errors.Is(err, store.ErrOtherKey) {
		return nil, fmt.Errorf("%s is encrypted under another site's key, not site %q's (its identity and genesis): %w", path, cfg.Name, err)
	}
	return st, err
}

// verifyStore loads every record of st, the file at path, into rep.
func verifyStore(st *store.Store, rep *crdt.Replica, path string) (BackupInfo, error) {
	info := BackupInfo{Path: path}
	held := map[crdt.Hash]bool{}
	roots := map[crdt.Hash]bool{} // dependencies outside the file, and changes without any
	var restoreErr error
	err := st.Load(func(rec store.Record) error {
		id := crdt.Hash(rec.ID)
		env, err := crdt.DecodeEnvelope(rec.Data)
		if err != nil {
			return fmt.Errorf("%s: change %s: %w", path, id, err)
		}
		if env.ID != id {
			return fmt.Errorf("%s: the record of change %s holds change %s", path, id, env.ID)
		}
		held[id] = true
		if len(env.Change.Deps) == 0 {
			roots[id] = true
		}
		for _, d := range env.Change.Deps {
			if !held[d] {
				roots[d] = true
			}
		}
		if restoreErr == nil {
			if err := rep.Restore(rec.Data); err != nil {
				restoreErr = fmt.Errorf("change %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return info, err // the store's errors name path, and so do ours
	}
	genesis := rep.Genesis()
	info.Genesis = genesis.Hex()
	if len(roots) > 0 && !roots[genesis] {
		var hexes []string
		for r := range roots {
			hexes = append(hexes, r.Hex())
		}
		info.Genesis = slices.Min(hexes)
		return info, fmt.Errorf("%s: %w: they descend from %.16s, not from the site's genesis %s", path, ErrOtherFederation, info.Genesis, genesis)
	}
	if restoreErr != nil {
		return info, fmt.Errorf("%s: %w", path, restoreErr)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return info, err
	}
	info.Bytes, info.Changes, info.Digest = fi.Size(), rep.Len(), rep.Digest().Hex()
	return info, nil
}
