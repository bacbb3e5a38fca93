package site

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/site/core"
	"atoll/site/store"
)

// TestDecideRotation: a site switches only to a key it holds that the charter lists
// for its name, and says when the charter lists one it does not hold.
func TestDecideRotation(t *testing.T) {
	id, next, prev, other := crdt.SignerFromSeed(seed(1)), crdt.SignerFromSeed(seed(2)), crdt.SignerFromSeed(seed(3)), crdt.SignerFromSeed(seed(4))
	kr := &keyring{identity: id, previous: prev, next: next, nextPath: "next.key"}
	for _, tc := range []struct {
		name     string
		listed   bool
		key, cur *crdt.Signer
		want     rotation
		to       *crdt.Signer
	}{
		{"not listed", false, nil, id, keepKey, nil},
		{"listed as the current key", true, id, id, keepKey, nil},
		{"rotated to next", true, next, id, switchKey, next},
		{"rotated back to identity", true, id, next, switchKey, id},
		{"listed as previous, after a restart", true, prev, id, switchKey, prev},
		{"rotated to a key not held", true, other, id, missingKey, nil},
	} {
		var key crdt.PubKey
		if tc.key != nil {
			key = tc.key.Public()
		}
		got, to := decideRotation(tc.listed, key, tc.cur.Public(), kr)
		if got != tc.want || to != tc.to {
			t.Errorf("%s: decideRotation = %d, %v; want %d, %v", tc.name, got, to, tc.want, tc.to)
		}
	}
}

func seed(b byte) []byte {
	s := make([]byte, 32)
	s[0] = b
	return s
}

// TestSiteFollowsRotation rotates a site's key with an admin's charter change while it is
// open: it writes as the new key from then on, built on the change, and keeps its name.
// Reopened with the same site.yaml it runs as the new key on the file sealed under the
// old one; with identity the new key and previousIdentity the old one, it re-seals the
// file, which then opens under the new key alone.
func TestSiteFollowsRotation(t *testing.T) {
	f := newFixture(t)
	f.write(t, f.cfg.DataFile(), 3)
	dir := filepath.Dir(f.cfg.Path(f.cfg.Identity))
	nextPub, err := NewKeyFile(filepath.Join(dir, "next.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	cfg.NextIdentity = "next.key"
	log := slog.New(slog.DiscardHandler)
	s, err := Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.signer.Load().Public(); got != f.signer.Public() {
		t.Fatalf("before the rotation the site speaks as %s, want its identity", FormatKey(got))
	}

	var rot *crdt.Envelope
	s.step(func(c *core.Core) {
		rot, err = c.Write(f.admin, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "site/s0/key", Value: nextPub[:]}}, nil, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.signer.Load().Public(); got != nextPub {
		t.Fatalf("after the rotation the site speaks as %s, want %s", FormatKey(got), FormatKey(nextPub))
	}
	if s.rep.Self() != nextPub {
		t.Fatal("the replica's Self is still the old key")
	}
	env, err := s.Write([]crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindSite, Key: "s0", Field: "labels/probe", Value: []byte("after")}})
	if err != nil {
		t.Fatalf("a write after the rotation: %v", err)
	}
	if env.Change.Author != nextPub {
		t.Fatalf("the write after the rotation is signed by %s, want the new key", FormatKey(env.Change.Author))
	}
	if !dependsOn(s.rep, env.ID, rot.ID) {
		t.Fatal("the write after the rotation is not built on it")
	}
	evs, _ := s.events.recent(0)
	if !slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == "site" && strings.Contains(e.Message, "rotated") }) {
		t.Fatalf("no rotation event: %+v", evs)
	}
	n := s.rep.Len()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The same site.yaml: the site runs as the new key; the file is still under the old one.
	s, err = Open(cfg, log)
	if err != nil {
		t.Fatalf("reopening with identity and nextIdentity: %v", err)
	}
	if got := s.signer.Load().Public(); got != nextPub || s.rep.Self() != nextPub || s.rep.Len() != n {
		t.Fatalf("reopened: speaks as %s, %d changes; want the new key and %d", FormatKey(got), s.rep.Len(), n)
	}
	s.Close()

	// The new key alone cannot open the file yet; with the old one as previousIdentity,
	// Open re-seals it, and from then on the new key alone opens it.
	cfg = f.cfg
	cfg.Identity = "next.key"
	if _, err := Open(cfg, log); !errors.Is(err, store.ErrOtherKey) {
		t.Fatalf("the new key alone before re-sealing: %v, want ErrOtherKey", err)
	}
	cfg.PreviousIdentity = f.cfg.Identity
	if s, err = Open(cfg, log); err != nil {
		t.Fatalf("re-sealing with previousIdentity: %v", err)
	}
	s.Close()
	cfg.PreviousIdentity = ""
	if s, err = Open(cfg, log); err != nil {
		t.Fatalf("the new key alone after re-sealing: %v", err)
	}
	if s.rep.Len() != n || s.signer.Load().Public() != nextPub {
		t.Fatalf("after re-sealing: %d changes, want %d", s.rep.Len(), n)
	}
	s.Close()
	old := f.cfg
	if _, err := Open(old, log); !errors.Is(err, store.ErrOtherKey) {
		t.Fatalf("the old key after re-sealing: %v, want ErrOtherKey", err)
	}
}

// dependsOn reports whether change id has dep in its causal past.
func dependsOn(r *crdt.Replica, id, dep crdt.Hash) bool {
	seen := map[crdt.Hash]bool{}
	stack := []crdt.Hash{id}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if h == dep {
			return true
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		b, ok := r.Envelope(h)
		if !ok {
			continue
		}
		env, err := crdt.DecodeEnvelope(b)
		if err != nil {
			continue
		}
		stack = append(stack, env.Change.Deps...)
	}
	return false
}
