package kube

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"atoll/site/store"
)

// testKey is the data key of the registry's tests.
var testKey = mustKey(1)

func mustKey(b byte) *store.DataKey {
	k, err := store.NewDataKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		panic(err)
	}
	return k
}

var _ Sealer = (*store.DataKey)(nil)

// assertSealed fails if the file at path holds the kubeconfig's server or token.
func assertSealed(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"token", "secret", "127.0.0.1", "apiVersion"} {
		if bytes.Contains(b, []byte(clear)) {
			t.Fatalf("%s holds %q in clear", path, clear)
		}
	}
}

// TestSealClear: a kubeconfig written in clear by a release before ADR 0007 is sealed
// in place at start, with the stale temporary file of an interrupted join; the cluster
// keeps working and a second run changes nothing.
func TestSealClear(t *testing.T) {
	dir := t.TempDir()
	c1 := filepath.Join(dir, "clusters", "c1")
	if err := os.MkdirAll(c1, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"kubeconfig": kubeconfig, "kubeconfig.tmp": kubeconfig, "cluster.json": `{"name":"c1"}`} {
		if err := os.WriteFile(filepath.Join(c1, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := NewRegistry(dir, testKey)
	if _, err := r.Config("c1"); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Fatalf("Config of a kubeconfig in clear before SealClear: %v", err)
	}
	sealed, err := r.SealClear(nil)
	if err != nil || len(sealed) != 1 || sealed[0] != "c1" {
		t.Fatalf("SealClear = %v, %v", sealed, err)
	}
	assertSealed(t, filepath.Join(c1, "kubeconfig"))
	if _, err := os.Stat(filepath.Join(c1, "kubeconfig.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("kubeconfig.tmp left in clear: %v", err)
	}
	if info, err := os.Stat(filepath.Join(c1, "kubeconfig")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("sealed kubeconfig: %v, %v", info, err)
	}
	cfg, err := r.Config("c1")
	if err != nil || cfg.BearerToken != "secret" {
		t.Fatalf("Config after SealClear: %+v, %v", cfg, err)
	}
	if !r.Holds(Entry{Name: "c1"}, []byte(kubeconfig)) {
		t.Error("Holds: false after SealClear")
	}
	if sealed, err := r.SealClear(nil); err != nil || len(sealed) != 0 {
		t.Fatalf("second SealClear = %v, %v", sealed, err)
	}
}

// TestKubeconfigOtherKeyOrPlace: a kubeconfig sealed under another site's key, or
// copied into another cluster's directory, does not open, and SealClear leaves it;
// given the previous key of a rotation, SealClear re-seals what that key sealed.
func TestKubeconfigOtherKeyOrPlace(t *testing.T) {
	dir := t.TempDir()
	r := NewRegistry(dir, testKey)
	for _, name := range []string{"c1", "c2"} {
		if err := r.Join(Entry{Name: name}, []byte(kubeconfig)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "clusters", "c1", "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clusters", "c2", "kubeconfig"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Config("c2"); !errors.Is(err, store.ErrOpen) {
		t.Fatalf("c1's kubeconfig in c2's directory: %v, want store.ErrOpen", err)
	}
	other := NewRegistry(dir, mustKey(2))
	if _, err := other.Config("c1"); !errors.Is(err, store.ErrOpen) {
		t.Fatalf("another key: %v, want store.ErrOpen", err)
	}
	if sealed, err := other.SealClear(nil); err != nil || len(sealed) != 0 {
		t.Fatalf("SealClear under another key = %v, %v: it must not seal sealed files again", sealed, err)
	}
	if _, err := r.Config("c1"); err != nil {
		t.Fatal(err)
	}
	// After a key rotation, the site's new key re-seals what the previous one sealed.
	// c2's file, moved from c1, opens under neither key there and stays as it is.
	if sealed, err := other.SealClear(testKey); err != nil || len(sealed) != 1 || sealed[0] != "c1" {
		t.Fatalf("SealClear(previous key) = %v, %v: want c1 re-sealed", sealed, err)
	}
	if cfg, err := other.Config("c1"); err != nil || cfg.BearerToken != "secret" {
		t.Fatalf("Config under the new key after re-sealing: %+v, %v", cfg, err)
	}
	if _, err := r.Config("c1"); !errors.Is(err, store.ErrOpen) {
		t.Fatalf("the previous key still opens a re-sealed kubeconfig: %v", err)
	}
	if sealed, err := other.SealClear(testKey); err != nil || len(sealed) != 0 {
		t.Fatalf("second SealClear(previous key) = %v, %v", sealed, err)
	}
}

// TestRetaint: a cluster's taints change by joining it again with its own labels and
// kubeconfig; a malformed taint, a key twice or a cluster not joined are refused, and
// nothing changes.
func TestRetaint(t *testing.T) {
	r := NewRegistry(t.TempDir(), testKey)
	if err := r.Join(Entry{Name: "c1", Labels: map[string]string{"tier": "prod"}, Taints: []string{"gpu=true:NoSchedule"}}, []byte(kubeconfig)); err != nil {
		t.Fatal(err)
	}
	e, kc, err := r.Retaint("c1", []string{"maint=now:NoExecute"})
	if err != nil || e.Labels["tier"] != "prod" || strings.Join(e.Taints, ",") != "maint=now:NoExecute" || string(kc) != kubeconfig {
		t.Fatalf("Retaint = %+v, %q, %v", e, kc, err)
	}
	for _, c := range []struct {
		name   string
		taints []string
		want   string
	}{
		{"c1", []string{"maint=now:Evict"}, "want key=value:Effect"},
		{"c1", []string{"maint:NoSchedule", "maint=x:NoExecute"}, "one taint per key"},
		{"c9", nil, "not joined"},
	} {
		if _, _, err := r.Retaint(c.name, c.taints); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Retaint(%s, %v) = %v, want an error containing %q", c.name, c.taints, err, c.want)
		}
	}
	if list, _ := r.List(); len(list) != 1 || strings.Join(list[0].Taints, ",") != "gpu=true:NoSchedule" {
		t.Errorf("the registry after refusals: %+v", list)
	}
}

// TestListKept: List keeps what it read until a Join or Unjoin, which it then shows at
// once, and each caller gets its own copy of the entries.
func TestListKept(t *testing.T) {
	r := NewRegistry(t.TempDir(), testKey)
	names := func() []string {
		t.Helper()
		es, err := r.List()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("List of an empty registry: %v", got)
	}
	if err := r.Join(Entry{Name: "c1", Labels: map[string]string{"tier": "0"}}, []byte(kubeconfig)); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"c1"}) {
		t.Fatalf("List after joining c1: %v", got)
	}
	es, _ := r.List()
	es[0].Labels["tier"] = "changed by a caller"
	if es, _ := r.List(); es[0].Labels["tier"] != "0" {
		t.Fatalf("a caller's change to its entries reached the registry: %v", es[0].Labels)
	}
	if err := r.Join(Entry{Name: "c2"}, []byte(kubeconfig)); err != nil {
		t.Fatal(err)
	}
	if err := r.Unjoin("c1"); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"c2"}) {
		t.Fatalf("List after joining c2 and unjoining c1: %v", got)
	}
}
