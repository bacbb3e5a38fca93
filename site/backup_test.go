package site

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site/store"
)

// fixture is a federation of one site on disk: its key, the genesis, its site.yaml, and
// a replica of it that writes changes as the site does.
type fixture struct {
	cfg    Config
	signer *crdt.Signer
	admin  *crdt.Signer // the federation's one admin, threshold 1
	rep    *crdt.Replica
	stored []store.Record // every change written, in order
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	if _, err := NewKeyFile(filepath.Join(dir, "s0.key")); err != nil {
		t.Fatal(err)
	}
	signer, err := LoadKeyFile(filepath.Join(dir, "s0.key"))
	if err != nil {
		t.Fatal(err)
	}
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	admin := crdt.SignerFromSeed(seed[:]) // a new federation each time
	genesis, err := crdt.NewGenesis(crdt.CharterSpec{Name: "test", Threshold: 1,
		Admins: []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites:  []crdt.SiteInfo{{Name: "s0", Key: signer.Public(), Region: "r0", Jurisdiction: "EU"}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "genesis.atoll"), genesis.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "name: s0\nidentity: s0.key\ngenesis: genesis.atoll\nlisten: 127.0.0.1:7946\ndataDir: data\n"
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis.Encode(), Self: signer.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cfg: cfg, signer: signer, admin: admin, rep: rep}
}

// key is the site's data key.
func (f *fixture) key(t *testing.T) *store.DataKey {
	t.Helper()
	k, err := DataKey(f.signer, f.rep.Genesis())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// write has the site write n more changes and stores every change written so far, as
// the site persists them, in the store file at path.
func (f *fixture) write(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path, store.Options{NoSync: true, Key: f.key(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		op := crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: "s0/c0", Field: "labels/k" + strconv.Itoa(i%7), Value: []byte(strconv.Itoa(i))}
		_, res, err := f.rep.Write(f.signer, []crdt.Op{op}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range res.Stored {
			f.stored = append(f.stored, store.Record{ID: env.ID, Data: env.Encode()})
		}
	}
	if err := st.Append(f.stored); err != nil {
		t.Fatal(err)
	}
}

// backup writes n more changes and stores all of them in a new file outside the data
// dir; it returns the file's path.
func (f *fixture) backup(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.db")
	f.write(t, path, n)
	return path
}

// dirFiles returns every file under dir with a hash of its bytes.
func dirFiles(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = sha256.Sum256(b)
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, before, after map[string][32]byte) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("the data dir changed: %d files before, %d after", len(before), len(after))
	}
	for p, h := range before {
		if after[p] != h {
			t.Fatalf("%s changed", p)
		}
	}
}

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func TestVerifyBackup(t *testing.T) {
	f := newFixture(t)
	path := f.backup(t, 40)
	info, err := VerifyBackup(f.cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Changes != 41 || info.Digest != f.rep.Digest().Hex() || info.Genesis != f.rep.Genesis().Hex() {
		t.Fatalf("VerifyBackup = %+v; want 41 changes, digest %s", info, f.rep.Digest().Hex())
	}
}

// badBackups returns damaged or foreign backups for f's site, by what is wrong with them
// and what the error must say.
func badBackups(t *testing.T, f *fixture) map[string]struct{ path, want string } {
	t.Helper()
	good := f.backup(t, 200)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := map[string]struct{ path, want string }{}
	add := func(name, want string, data []byte) {
		p := filepath.Join(dir, name+".db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out[name] = struct{ path, want string }{p, want}
	}
	add("truncated", "truncated", b[:len(b)/2])
	add("empty", "empty file", nil)
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	add("random", "invalid", garbage)

	other := newFixture(t).backup(t, 5)
	out["other-genesis"] = struct{ path, want string }{other, "encrypted under another site's key"}

	// A backup of another site of the same federation: its changes would load, but
	// they are sealed under that site's key.
	otherSite := filepath.Join(dir, "other-site.db")
	otherKey, err := DataKey(crdt.SignerFromSeed(make([]byte, 32)), f.rep.Genesis())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(otherSite, store.Options{NoSync: true, Key: otherKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(f.stored); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	out["other-site"] = struct{ path, want string }{otherSite, `encrypted under another site's key, not site "s0"'s`}

	// A record holding another change than its id names.
	swapped := filepath.Join(dir, "swapped.db")
	st, err = store.Open(swapped, store.Options{NoSync: true, Key: f.key(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := f.rep.Write(f.signer, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: "s0/c0", Field: "labels/x", Value: []byte("1")}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append([]store.Record{{ID: sha256.Sum256([]byte("x")), Data: res.Stored[0].Encode()}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	out["swapped"] = struct{ path, want string }{swapped, "holds change " + res.Stored[0].ID.String()}
	return out
}

func TestVerifyBackupRefuses(t *testing.T) {
	f := newFixture(t)
	for name, bad := range badBackups(t, f) {
		_, err := VerifyBackup(f.cfg, bad.path)
		wantErrContains(t, err, bad.path, bad.want)
		if strings.HasPrefix(name, "other-") && !errors.Is(err, store.ErrOtherKey) {
			t.Errorf("%s: %v, want store.ErrOtherKey", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

func TestRestore(t *testing.T) {
	f := newFixture(t)
	backup := f.backup(t, 30)        // changes 1..30
	f.write(t, f.cfg.DataFile(), 10) // the site went on: 1..40
	old, err := os.ReadFile(f.cfg.DataFile())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	res, err := Restore(t.Context(), f.cfg, backup, RestoreOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.ReplacedErr != nil {
		t.Errorf("the replaced file loads, but: %v", res.ReplacedErr)
	}
	if want := f.cfg.DataFile() + ".before-restore-20250304T040607Z"; res.Kept != want {
		t.Errorf("kept as %q, want %q", res.Kept, want)
	}
	kept, err := os.ReadFile(res.Kept)
	if err != nil || string(kept) != string(old) {
		t.Fatalf("the kept file is not the old data file (%v)", err)
	}
	want, err := VerifyBackup(f.cfg, backup)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyBackup(f.cfg, f.cfg.DataFile())
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want.Digest || got.Changes != 31 || res.Backup != got {
		t.Fatalf("restored %+v, want the backup's %+v", got, want)
	}
	entries, err := os.ReadDir(filepath.Dir(f.cfg.DataFile()))
	if err != nil || len(entries) != 2 {
		t.Fatalf("the data dir holds %v (%v), want atoll.db and the kept file", entries, err)
	}
}

func TestRestoreIntoEmptyDataDir(t *testing.T) {
	f := newFixture(t)
	backup := f.backup(t, 3)
	res, err := Restore(t.Context(), f.cfg, backup, RestoreOptions{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != "" || res.Backup.Changes != 4 {
		t.Fatalf("Restore = %+v; want nothing kept and 4 changes", res)
	}
}

func TestRestoreRefusesBadBackups(t *testing.T) {
	f := newFixture(t)
	f.write(t, f.cfg.DataFile(), 10)
	dir := filepath.Dir(f.cfg.DataFile())
	before := dirFiles(t, dir)
	for name, bad := range badBackups(t, f) {
		_, err := Restore(t.Context(), f.cfg, bad.path, RestoreOptions{Force: true, Now: time.Now()})
		wantErrContains(t, err, bad.path, bad.want)
		sameSnapshot(t, before, dirFiles(t, dir))
		t.Logf("%s: %v", name, err)
	}
	_, err := Restore(t.Context(), f.cfg, f.cfg.DataFile(), RestoreOptions{Now: time.Now()})
	wantErrContains(t, err, "the site's data file itself")
	_, err = Restore(t.Context(), f.cfg, filepath.Join(t.TempDir(), "missing.db"), RestoreOptions{Now: time.Now()})
	wantErrContains(t, err, "missing.db", "no such file")
	sameSnapshot(t, before, dirFiles(t, dir))
}

func TestRestoreRefusesWhileLocked(t *testing.T) {
	f := newFixture(t)
	f.write(t, f.cfg.DataFile(), 5)
	st, err := store.Open(f.cfg.DataFile(), store.Options{Key: f.key(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := dirFiles(t, filepath.Dir(f.cfg.DataFile()))
	_, err = Restore(t.Context(), f.cfg, f.backup(t, 3), RestoreOptions{Now: time.Now()})
	if !errors.Is(err, ErrSiteRunning) {
		t.Fatalf("Restore while the data file is locked: %v, want ErrSiteRunning", err)
	}
	sameSnapshot(t, before, dirFiles(t, filepath.Dir(f.cfg.DataFile())))
}

func TestRestoreRefusesWhileAPIAnswers(t *testing.T) {
	f := newFixture(t)
	f.write(t, f.cfg.DataFile(), 5)
	ln, err := net.Listen("unix", f.cfg.SocketPath())
	if err != nil {
		t.Skip("unix socket:", err) // a temp dir path too long for a socket
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	_, err = Restore(t.Context(), f.cfg, f.backup(t, 3), RestoreOptions{Now: time.Now()})
	if !errors.Is(err, ErrSiteRunning) || !strings.Contains(err.Error(), f.cfg.SocketPath()) {
		t.Fatalf("Restore while the API answers: %v, want ErrSiteRunning naming the socket", err)
	}
}

func TestRestoreOtherFederation(t *testing.T) {
	f, other := newFixture(t), newFixture(t)
	other.write(t, f.cfg.DataFile(), 5) // the data dir holds another federation's changes
	dir := filepath.Dir(f.cfg.DataFile())
	before := dirFiles(t, dir)
	backup := f.backup(t, 3)
	_, err := Restore(t.Context(), f.cfg, backup, RestoreOptions{Now: time.Now()})
	wantErrContains(t, err, f.cfg.DataFile(), "encrypted under another key", "force")
	sameSnapshot(t, before, dirFiles(t, dir))

	res, err := Restore(t.Context(), f.cfg, backup, RestoreOptions{Force: true, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.ReplacedErr, store.ErrOtherKey) || res.Kept == "" {
		t.Fatalf("forced Restore = %+v; want the foreign file kept and named", res)
	}
	if _, err := VerifyBackup(f.cfg, f.cfg.DataFile()); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesReplica(t *testing.T) {
	f := newFixture(t)
	f.cfg.Replica = &ReplicaConfig{ID: "r0"}
	_, err := Restore(t.Context(), f.cfg, f.backup(t, 1), RestoreOptions{Now: time.Now()})
	wantErrContains(t, err, "Raft")
}

func TestBackupOverAPI(t *testing.T) {
	f := newFixture(t)
	f.write(t, f.cfg.DataFile(), 20)
	st, err := store.Open(f.cfg.DataFile(), store.Options{Key: f.key(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Site{replication: replication{st: st}, log: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("unix", f.cfg.SocketPath())
	if err != nil {
		t.Skip("unix socket:", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/backup", s.handleBackup)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	c := NewClient(f.cfg.SocketPath())
	defer c.Close()
	path := filepath.Join(t.TempDir(), "copy.db")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Backup(t.Context(), out)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := VerifyBackup(f.cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != n || info.Changes != 21 || info.Digest != f.rep.Digest().Hex() {
		t.Fatalf("copy %+v after %d bytes; want 21 changes, digest %s", info, n, f.rep.Digest().Hex())
	}

	// A closed store is an error with a status, not a short copy.
	st.Close()
	if _, err := c.Backup(t.Context(), io.Discard); err == nil || !strings.Contains(err.Error(), "store closed") {
		t.Fatalf("backup of a closed store: %v", err)
	}
}
