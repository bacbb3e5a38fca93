package e2e

import (
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/site"
	"atoll/site/store"
	"atoll/site/transport"
)

// keyPeers is a fixed charter for a test transport: site names by key.
type keyPeers map[crdt.PubKey]string

func (p keyPeers) Lookup(k ed25519.PublicKey) (string, bool) {
	if len(k) != ed25519.PublicKeySize {
		return "", false
	}
	name, ok := p[crdt.PubKey(k)]
	return name, ok
}

// TestRotateSiteKey rotates s01's key while it serves: three sites, three admins of
// which two sign, an operator's workloads. s01's site.yaml names a nextIdentity whose
// file does not exist at start; the key is made while it runs (atoll keys new), and an
// amendment rotating s01 to it is proposed, signed and submitted to s01 itself, which
// switches at once and must still bring the amendment to the others. Then: s01 keeps its
// name and the workloads, it speaks as the new key, its writes reach every site; the
// other sites close a stream s01's old key opened before, and refuse a new handshake by
// the old key while accepting the new one. s01 restarted with identity the new key and
// previousIdentity the old one re-seals its data file, which the old key no longer
// opens, and converges; restarted once more without previousIdentity, it opens it alone.
func TestRotateSiteKey(t *testing.T) {
	const rot = 1
	f := start(t, Options{Sites: 3, HTTP: true, Admins: 3, Threshold: 2, Tune: func(i int, c *site.Config) {
		if i == rot {
			c.NextIdentity = "s01-next.key"
		}
	}})
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	atoll := cliAt(ctx, t, f, rot)
	manifest := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(manifest, []byte(cliYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := atoll("apply", "-f", manifest); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	oldKey, err := site.LoadKeyFile(f.KeyFile(f.Names[rot]))
	if err != nil {
		t.Fatal(err)
	}
	peers := keyPeers{}
	for i, name := range f.Names {
		k, err := site.LoadKeyFile(f.KeyFile(name))
		if err != nil {
			t.Fatal(err)
		}
		if i != rot {
			peers[k.Public()] = name
		}
	}
	dialer := func(key *crdt.Signer) *transport.Transport {
		tr, err := transport.New(transport.Config{Name: f.Names[rot], Key: key.PrivateKey(), BindAddr: "127.0.0.1:0", Peers: peers, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Shutdown() })
		return tr
	}
	oldTr := dialer(oldKey)
	// A stream the old key opens before the rotation, to a site that will apply it.
	held, err := oldTr.Dial(ctx, f.addrs[0], f.Names[0], 'P')
	if err != nil {
		t.Fatalf("a stream of s01's key before the rotation: %v", err)
	}
	defer held.Close()
	// The acceptor of a push stream first writes the version byte (ADR 0015): read it,
	// so that the read below sees only the stream's end.
	_ = held.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(held, make([]byte, 1)); err != nil {
		t.Fatalf("the push stream's version byte: %v", err)
	}
	viewBefore, err := f.Client(0).View(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The new key, made while s01 runs, where its nextIdentity points.
	nextPath := filepath.Join(filepath.Dir(f.Config(rot)), "s01-next.key")
	out, err := atoll("keys", "new", nextPath)
	if err != nil {
		t.Fatalf("keys new: %v\n%s", err, out)
	}
	newKey, err := site.LoadKeyFile(nextPath)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rotate-s01.yaml")
	out, err = atoll("charter", "propose", "--key", f.KeyFile("admin"), "-m", "rotate s01's key",
		"--rotate", "site/"+f.Names[rot]+"="+site.FormatKey(newKey.Public()), "-o", file)
	if err != nil {
		t.Fatalf("propose: %v\n%s", err, out)
	}
	t.Logf("propose:\n%s", out)
	if out, err := atoll("charter", "sign", "--key", f.KeyFile("admin1"), file); err != nil || !strings.Contains(out, "ready to submit") {
		t.Fatalf("sign by admin1: %v\n%s", err, out)
	}
	out, err = atoll("charter", "submit", file) // to s01, the current context
	m := charterAcceptedRE.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	for i := range f.Names {
		if ok, err := f.Client(i).Has(ctx, m[1], time.Minute); err != nil || !ok {
			t.Fatalf("%s does not hold the rotation: %v", f.Names[i], err)
		}
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	// s01 speaks as the new key, keeps its name and the workloads, and its writes,
	// signed as the new key (the old one is in no charter now), reach every site.
	checkSpeaksNew := func(when string) {
		t.Helper()
		st, err := f.Client(rot).State(ctx)
		if err != nil || st.Key != site.FormatKey(newKey.Public()) || st.Name != f.Names[rot] {
			t.Fatalf("%s: s01's state: name %q key %s, %v; want key %s", when, st.Name, st.Key, err, site.FormatKey(newKey.Public()))
		}
		id, err := f.Write(ctx, rot, "rotated", when)
		if err != nil {
			t.Fatalf("%s: s01's write: %v", when, err)
		}
		for i := range f.Names {
			if ok, err := f.Client(i).Has(ctx, id, time.Minute); err != nil || !ok {
				t.Fatalf("%s: %s does not hold s01's write %s: %v", when, f.Names[i], id, err)
			}
		}
		v, err := f.Client(0).View(ctx)
		if err != nil {
			t.Fatal(err)
		}
		live := false
		for _, s := range v.Sites {
			live = live || s.Name == f.Names[rot] && s.Live
		}
		if !live || len(v.Workloads) != len(viewBefore.Workloads) {
			t.Fatalf("%s: s00's view: s01 live %v, %d workloads, want %d", when, live, len(v.Workloads), len(viewBefore.Workloads))
		}
	}
	checkSpeaksNew("after the rotation")
	ch, err := f.Client(2).Charter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(ch.Charter.Sites, func(s site.CharterSite) bool { return s.Name == f.Names[rot] }); i < 0 || ch.Charter.Sites[i].Key != site.FormatKey(newKey.Public()) {
		t.Fatalf("s02's charter: sites %+v, want s01 with the new key", ch.Charter.Sites)
	}

	// The stream of the old key was closed when s00 applied the rotation.
	if err := held.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("s00 kept the stream of s01's old key open after the rotation: read %v", err)
	}
	// New handshakes: the old key is refused, the new one accepted, at every other site.
	newTr := dialer(newKey)
	for i := range f.Names {
		if i == rot {
			continue
		}
		if c, err := oldTr.Dial(ctx, f.addrs[i], f.Names[i], 'P'); err == nil {
			c.Close()
			t.Fatalf("%s accepted a handshake with s01's old key after the rotation", f.Names[i])
		}
		c, err := newTr.Dial(ctx, f.addrs[i], f.Names[i], 'P')
		if err != nil {
			t.Fatalf("%s refused s01's new key: %v", f.Names[i], err)
		}
		c.Close()
	}

	// Restart s01 with the new key as identity and the old one as previousIdentity: it
	// re-seals its data file under the new data key.
	setKeys := func(identity, previous string) {
		t.Helper()
		c, err := site.ReadConfig(f.Config(rot))
		if err != nil {
			t.Fatal(err)
		}
		c.Identity, c.PreviousIdentity, c.NextIdentity = identity, previous, ""
		b, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.Config(rot), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	restart := func() {
		t.Helper()
		if err := f.StopSite(rot); err != nil {
			t.Fatal(err)
		}
		if err := f.StartSite(ctx, rot); err != nil {
			t.Fatal(err)
		}
		if err := f.WaitMembers(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.WaitConverged(ctx); err != nil {
			t.Fatal(err)
		}
	}
	setKeys("s01-next.key", f.Names[rot]+".key")
	restart()
	checkSpeaksNew("after the restart that re-sealed")

	if err := f.StopSite(rot); err != nil {
		t.Fatal(err)
	}
	c, err := site.ReadConfig(f.Config(rot))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  *crdt.Signer
		want error
	}{{oldKey, store.ErrOtherKey}, {newKey, nil}} {
		if err := openDataFile(c, tc.key); !errors.Is(err, tc.want) {
			t.Fatalf("s01's data file under key %s: %v, want %v", site.FormatKey(tc.key.Public()), err, tc.want)
		}
	}
	setKeys("s01-next.key", "")
	if err := f.StartSite(ctx, rot); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	checkSpeaksNew("after the restart with the new key alone")
}

// openDataFile opens a stopped site's data file read-only under key's data key and loads it.
func openDataFile(c site.Config, key *crdt.Signer) error {
	genesis, err := os.ReadFile(c.Path(c.Genesis))
	if err != nil {
		return err
	}
	env, err := crdt.DecodeEnvelope(genesis)
	if err != nil {
		return err
	}
	dk, err := site.DataKey(key, env.ID)
	if err != nil {
		return err
	}
	st, err := store.Open(c.DataFile(), store.Options{ReadOnly: true, Key: dk})
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Load(func(store.Record) error { return nil })
}
