package site

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"atoll/crdt"
	"atoll/site/store"
)

// A site's key rotation (docs/DEPLOY.md, "Rotating a site's key"): an admin amendment
// (atoll charter propose --rotate site/NAME=KEY) gives the site's name a new key. The
// site holds that key before the amendment, as nextIdentity; when the charter it holds
// lists its name with it, the site speaks as it from then on: it signs its changes with
// it (built on the amendment, which Write's heads include), presents it in every later
// TLS handshake and packet, and keeps bodies for the jurisdiction of its name. Its data
// file stays sealed under the data key of identity until the operator makes the new key
// identity and the old one previousIdentity, and restarts it: Open then re-seals the
// file and the kubeconfigs under the new data key.

// keyring is the keys a site holds: its identity, and optionally the key staged to
// replace it (nextIdentity) and the key it replaced (previousIdentity). It is safe
// for concurrent use.
type keyring struct {
	identity, previous *crdt.Signer // previous is nil if not configured
	nextPath           string       // "" if not configured

	mu   sync.Mutex
	next *crdt.Signer // nil until nextPath is read
}

// loadKeyring reads the site's keys. The identity and, if configured, the previous
// identity must exist; the next identity is read if its file exists already, else by
// loadNext once it does.
func loadKeyring(cfg Config) (*keyring, error) {
	id, err := LoadKeyFile(cfg.Path(cfg.Identity))
	if err != nil {
		return nil, err
	}
	kr := &keyring{identity: id, nextPath: cfg.Path(cfg.NextIdentity)}
	if cfg.PreviousIdentity != "" {
		if kr.previous, err = LoadKeyFile(cfg.Path(cfg.PreviousIdentity)); err != nil {
			return nil, fmt.Errorf("previousIdentity: %w", err)
		}
	}
	if err := kr.loadNext(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("nextIdentity: %w", err)
	}
	return kr, nil
}

// loadNext reads the next identity if it is configured and not read yet.
func (kr *keyring) loadNext() error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if kr.nextPath == "" || kr.next != nil {
		return nil
	}
	next, err := LoadKeyFile(kr.nextPath)
	if err != nil {
		return err
	}
	kr.next = next
	return nil
}

// signers returns the keys held, identity first, then next and previous.
func (kr *keyring) signers() []*crdt.Signer {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	out := []*crdt.Signer{kr.identity}
	for _, s := range []*crdt.Signer{kr.next, kr.previous} {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// find returns the held key whose public half is k, or nil.
func (kr *keyring) find(k crdt.PubKey) *crdt.Signer {
	for _, s := range kr.signers() {
		if s.Public() == k {
			return s
		}
	}
	return nil
}

// listed returns the held key the charter lists for the site, nil if it lists none of
// them (or the site is an observer, whose key is not rotated in place).
func (kr *keyring) listed(ch *crdt.Charter, cfg Config) *crdt.Signer {
	if cfg.Observer {
		return nil
	}
	info, ok := ch.SiteByName(cfg.Name)
	if !ok {
		return nil
	}
	return kr.find(info.Key)
}

// dataKeys returns the data key of the identity, which the data file is sealed under,
// and that of the previous identity (nil if none), which Open re-seals from.
func (kr *keyring) dataKeys(genesis crdt.Hash) (key, prev *store.DataKey, err error) {
	if key, err = DataKey(kr.identity, genesis); err != nil || kr.previous == nil {
		return key, nil, err
	}
	prev, err = DataKey(kr.previous, genesis)
	return key, prev, err
}

// rotation is what a site does about the key its charter lists for its name.
type rotation int

const (
	keepKey    rotation = iota // the charter lists the key the site speaks as, or not the site at all
	switchKey                  // the charter lists another key the site holds: speak as it
	missingKey                 // the charter lists a key the site does not hold: peers refuse it
)

// decideRotation compares the key the charter lists for the site (listed false if it
// lists none) with the one it speaks as, and finds the new one among the held keys.
func decideRotation(listed bool, charterKey, current crdt.PubKey, held *keyring) (rotation, *crdt.Signer) {
	if !listed || charterKey == current {
		return keepKey, nil
	}
	if s := held.find(charterKey); s != nil {
		return switchKey, s
	}
	return missingKey, nil
}

// followRotation switches the site to the key its charter lists, if it holds that key
// and does not speak as it yet. Called with mu held, whenever the charter changes.
func (s *Site) followRotation(ch *crdt.Charter) {
	if s.cfg.Observer || s.keys == nil {
		return
	}
	info, listed := ch.SiteByName(s.cfg.Name)
	var key crdt.PubKey
	if listed {
		key = info.Key
		if err := s.keys.loadNext(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("nextIdentity unreadable", "err", err)
		}
	}
	cur := s.signer.Load()
	what, next := decideRotation(listed, key, cur.Public(), s.keys)
	switch what {
	case switchKey:
		s.useKey(next)
		s.log.Info("site key rotated by the charter: speaking as the new key", "name", s.cfg.Name, "from", FormatKey(cur.Public()), "to", FormatKey(next.Public()))
		s.events.add("site", s.cfg.Name, fmt.Sprintf("key of %s rotated from %s to %s", s.cfg.Name, FormatKey(cur.Public()), FormatKey(next.Public())))
	case missingKey:
		if s.missing != key {
			s.missing = key
			s.log.Error("the charter lists a key for this site that it does not hold: set nextIdentity to its key file; peers refuse this site until then", "name", s.cfg.Name, "key", FormatKey(key))
			s.events.add("site", s.cfg.Name, fmt.Sprintf("the charter gives %s key %s, which this site does not hold", s.cfg.Name, FormatKey(key)))
		}
	}
}

// useKey makes k the key the site signs with, stands for in the replica (its
// jurisdiction) and presents to peers. Called with mu held, or before Run.
func (s *Site) useKey(k *crdt.Signer) {
	s.signer.Store(k)
	s.rep.SetSelf(k.Public())
	if s.trans != nil {
		if err := s.trans.SetKey(k.PrivateKey()); err != nil {
			s.log.Error("transport key", "err", err)
		}
	}
}

// ownKey reports whether key is one this process holds, for its site's own replicas:
// during a rotation, replicas that applied it speak as the new key while the others
// still speak as the old one, and each must accept the other on the Raft channel.
// Only the holders of the site's keys pass.
func (s *Site) ownKey(key crdt.PubKey) bool {
	return s.cfg.Replica != nil && s.keys != nil && s.keys.find(key) != nil
}
