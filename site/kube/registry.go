package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/crdt"
)

// Entry is one joined cluster.
type Entry struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	// Taints keep workloads off the cluster unless they tolerate them, as
	// "key=value:Effect" or "key:Effect" with Effect NoSchedule or NoExecute.
	Taints []string `json:"taints,omitempty"`
}

// ParseTaint reads "key=value:Effect" or "key:Effect".
func ParseTaint(s string) (key, value, effect string, err error) {
	kv, effect, ok := strings.Cut(s, ":")
	key, value, _ = strings.Cut(kv, "=")
	if !ok || key == "" || effect != "NoSchedule" && effect != "NoExecute" || strings.ContainsAny(s, " \t\n,") {
		return "", "", "", fmt.Errorf("taint %q: want key=value:Effect or key:Effect, Effect NoSchedule or NoExecute", s)
	}
	return key, value, effect, nil
}

// Registry keeps joined clusters under <dataDir>/clusters/<name>/: kubeconfig (0600,
// sealed under the site's data key) and cluster.json (its name, labels and taints, in
// clear). List is read every few seconds by the loops that observe and reconcile the
// clusters, so the Registry keeps what it last listed until its own Join or Unjoin (the
// only writers of the directory while the site runs).
type Registry struct {
	dir string
	key Sealer

	mu     sync.Mutex
	listed []Entry // nil: read the directory again
	writes uint64  // Joins and Unjoins done: a List read across one is not kept
}

// Sealer seals and opens a record bound to its place and key (docs/adr/0007):
// the site's store.DataKey. A kubeconfig is sealed for place "kubeconfig" and the
// cluster's name, so a file copied to another cluster's directory does not open.
type Sealer interface {
	Seal(place string, key, plaintext []byte) []byte
	Open(place string, key, sealed []byte) ([]byte, error)
}

// placeKubeconfig is the place kubeconfig files are sealed for.
const placeKubeconfig = "kubeconfig"

// NewRegistry returns the registry in a site's data dir, whose kubeconfigs key seals.
func NewRegistry(dataDir string, key Sealer) *Registry {
	return &Registry{dir: filepath.Join(dataDir, "clusters"), key: key}
}

// ErrNotJoined is returned for a cluster that is not in the registry.
var ErrNotJoined = errors.New("cluster not joined")

// Join validates a kubeconfig and stores it under name, replacing an earlier join of the
// same name. It does not contact the cluster (the observer does).
func (r *Registry) Join(e Entry, kubeconfig []byte) error {
	name, labels := e.Name, e.Labels
	if !crdt.IsDNSLabel(name) {
		return fmt.Errorf("cluster name %q: want a DNS label (lower case letters, digits, '-')", name)
	}
	for k, v := range labels {
		if k == "" || strings.ContainsAny(k+v, " \t\n,=") {
			return fmt.Errorf("label %q=%q: keys and values may not be empty or hold spaces, ',' or '='", k, v)
		}
	}
	for _, t := range e.Taints {
		if _, _, _, err := ParseTaint(t); err != nil {
			return err
		}
	}
	if _, err := restConfig(kubeconfig); err != nil {
		return fmt.Errorf("cluster %s: kubeconfig: %w", name, err)
	}
	dir := filepath.Join(r.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	meta, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "kubeconfig"), r.key.Seal(placeKubeconfig, []byte(name), kubeconfig)); err != nil {
		return err
	}
	defer r.wrote()
	return writeFile(filepath.Join(dir, "cluster.json"), meta)
}

// wrote forgets what List kept, after a Join or Unjoin.
func (r *Registry) wrote() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listed, r.writes = nil, r.writes+1
}

// Retaint returns the join of a cluster with taints in place of its own: its entry and
// kubeconfig, to join again (a site changes a cluster's taints by joining it again, so
// that site replicas take the change through the same log entry as a join).
func (r *Registry) Retaint(name string, taints []string) (Entry, []byte, error) {
	entries, err := r.List()
	if err != nil {
		return Entry{}, nil, err
	}
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == name })
	if i < 0 {
		return Entry{}, nil, fmt.Errorf("%s: %w", name, ErrNotJoined)
	}
	keys := map[string]bool{}
	for _, t := range taints {
		k, _, _, err := ParseTaint(t)
		if err != nil {
			return Entry{}, nil, err
		}
		if keys[k] {
			return Entry{}, nil, fmt.Errorf("taint %q: a cluster holds one taint per key, and %s is there twice", t, k)
		}
		keys[k] = true
	}
	kc, err := r.kubeconfig(name)
	if err != nil {
		return Entry{}, nil, err
	}
	e := entries[i]
	e.Taints = slices.Clone(taints)
	return e, kc, nil
}

// kubeconfig reads and opens the kubeconfig of a joined cluster.
func (r *Registry) kubeconfig(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, name, "kubeconfig"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNotJoined)
	}
	kc, err := r.key.Open(placeKubeconfig, []byte(name), b)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: kubeconfig %s: %w", name, filepath.Join(r.dir, name, "kubeconfig"), err)
	}
	return kc, nil
}

// SealClear seals the kubeconfigs that releases before ADR 0007 wrote in clear, and,
// if prev is not nil, re-seals those sealed under prev (the data key of a site's
// previous identity, after a key rotation), in place; it removes the temporary files an
// interrupted write left behind. It returns the names of the clusters whose kubeconfig
// it sealed. A site calls it at start, before it reads any kubeconfig; run again, it
// finds nothing to do.
func (r *Registry) SealClear(prev Sealer) ([]string, error) {
	des, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sealed []string
	for _, de := range des {
		name, dir := de.Name(), filepath.Join(r.dir, de.Name())
		if !de.IsDir() || !crdt.IsDNSLabel(name) {
			continue
		}
		for _, tmp := range []string{"kubeconfig.tmp", "cluster.json.tmp"} {
			if err := os.Remove(filepath.Join(dir, tmp)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return sealed, err
			}
		}
		path := filepath.Join(dir, "kubeconfig")
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // a join in progress, or debris: List skips it too
		}
		if err != nil {
			return sealed, err
		}
		if _, err := r.key.Open(placeKubeconfig, []byte(name), b); err == nil {
			continue
		}
		if prev != nil {
			if p, err := prev.Open(placeKubeconfig, []byte(name), b); err == nil {
				b = p
			}
		}
		if err := CheckKubeconfig(b); err != nil {
			// Neither sealed under these keys nor a kubeconfig in clear: Config
			// names the file when the cluster is used.
			continue
		}
		if err := writeFile(path, r.key.Seal(placeKubeconfig, []byte(name), b)); err != nil {
			return sealed, fmt.Errorf("cluster %s: sealing its kubeconfig: %w", name, err)
		}
		sealed = append(sealed, name)
	}
	return sealed, nil
}

// writeFile replaces path atomically with data, readable only by the owner.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Unjoin forgets a cluster and deletes its credentials.
func (r *Registry) Unjoin(name string) error {
	dir := filepath.Join(r.dir, name)
	if _, err := os.Stat(filepath.Join(dir, "cluster.json")); err != nil || !crdt.IsDNSLabel(name) {
		return fmt.Errorf("%s: %w", name, ErrNotJoined)
	}
	defer r.wrote()
	return os.RemoveAll(dir)
}

// List returns the joined clusters, sorted by name.
func (r *Registry) List() ([]Entry, error) {
	r.mu.Lock()
	listed, writes := r.listed, r.writes
	r.mu.Unlock()
	if listed == nil {
		var err error
		if listed, err = r.read(); err != nil {
			return nil, err
		}
		r.mu.Lock()
		if r.writes == writes {
			r.listed = listed
		}
		r.mu.Unlock()
	}
	out := make([]Entry, len(listed)) // the caller's own copy
	for i, e := range listed {
		out[i] = Entry{Name: e.Name, Labels: maps.Clone(e.Labels), Taints: slices.Clone(e.Taints)}
	}
	return out, nil
}

// read lists the joined clusters from the directory, sorted by name (an empty, not nil,
// slice when there are none).
func (r *Registry) read() ([]Entry, error) {
	des, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(r.dir, de.Name(), "cluster.json"))
		if err != nil {
			continue // a join in progress, or debris
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("cluster %s: cluster.json: %w", de.Name(), err)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Holds reports whether the registry holds the cluster e.Name joined with exactly this
// entry (labels, taints) and kubeconfig, so that joining it again would change nothing.
func (r *Registry) Holds(e Entry, kubeconfig []byte) bool {
	if !crdt.IsDNSLabel(e.Name) {
		return false
	}
	dir := filepath.Join(r.dir, e.Name)
	held, err := r.kubeconfig(e.Name)
	if err != nil || !bytes.Equal(held, kubeconfig) {
		return false
	}
	meta, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return false
	}
	want, err := json.Marshal(e) // map keys sorted, empty fields omitted: canonical
	return err == nil && bytes.Equal(meta, want)
}

// Config returns the client configuration of a joined cluster.
func (r *Registry) Config(name string) (*rest.Config, error) {
	if !crdt.IsDNSLabel(name) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotJoined)
	}
	b, err := r.kubeconfig(name)
	if err != nil {
		return nil, err
	}
	c, err := restConfig(b)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: kubeconfig: %w", name, err)
	}
	return c, nil
}

func restConfig(kubeconfig []byte) (*rest.Config, error) {
	c, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	c.UserAgent = "atoll-site"
	return c, nil
}

// CheckKubeconfig reports whether a kubeconfig can be used as a client configuration.
func CheckKubeconfig(kubeconfig []byte) error {
	_, err := restConfig(kubeconfig)
	return err
}
