package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"

	"atoll/crdt"
)

// atollFed is a federation like crdt's test fixture: 3 admins (2 of 3 needed), the four
// sites of the workload with their jurisdictions, and one operator for every namespace.
type atollFed struct {
	sites   []*crdt.Signer // by index into sites
	genesis []byte
}

func benchKey(name string) *crdt.Signer {
	seed := sha256.Sum256([]byte("atoll bench key " + name))
	return crdt.SignerFromSeed(seed[:])
}

func newAtollFed() (*atollFed, error) {
	f := &atollFed{}
	spec := crdt.CharterSpec{Name: "bench", Threshold: 2}
	var admins []*crdt.Signer
	for _, a := range []string{"ada", "bob", "cy"} {
		s := benchKey("admin " + a)
		admins = append(admins, s)
		spec.Admins = append(spec.Admins, crdt.Member{Name: a, Key: s.Public()})
	}
	for _, s := range sites {
		k := benchKey("site " + s.name)
		f.sites = append(f.sites, k)
		spec.Sites = append(spec.Sites, crdt.SiteInfo{Name: s.name, Key: k.Public(), Region: s.region, Jurisdiction: s.jur})
	}
	root := benchKey("operator root")
	spec.Operators = append(spec.Operators, crdt.OperatorInfo{Name: "root", Key: root.Public(), Namespaces: []string{"*"}})
	env, err := crdt.NewGenesis(spec, admins[0], admins[1])
	if err != nil {
		return nil, err
	}
	f.genesis = env.Encode()
	return f, nil
}

func (f *atollFed) replica(site int) (*crdt.Replica, error) {
	return crdt.NewReplica(crdt.Config{Genesis: f.genesis, Self: f.sites[site].Public()})
}

func statusSet(key, field string, v int64) crdt.Op {
	return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: key, Field: field, Value: strconv.AppendInt(nil, v, 10)}
}

// mergeRun is one two-way merge of the forks' concurrent edits.
type mergeRun struct {
	time  span
	bytes int
	msgs  int // messages exchanged (sync protocol) or changes shipped
}

// atollBench drives Atoll through the workload. Times are totals over a phase.
type atollBench struct {
	fed *atollFed
	w   *workload
	// writer writes (a) and (b); receiver gets every envelope with Receive (signatures
	// checked); restA and restB get them with Restore, which skips only the signature check:
	// the direct measure of what a peer pays besides Ed25519. After the replay all four are
	// equal: writer/receiver and restA/restB are the fork pairs of (c).
	writer, receiver, restA, restB *crdt.Replica
	timeSigs                       bool // time ed25519 on each block's messages (not in the memory child)
	envs                           [][]byte

	create, update               span // Write (prepare, sign, verify, apply) + Encode
	createBytes, updateBytes     int
	createSig, updateSig         span // ed25519 Sign+Verify alone on the same messages
	sigSign, sigVerify           span // the same, split, over both phases
	sigCount                     int
	applyCreate, applyUpdate     span // receiver: Receive
	restoreCreate, restoreUpdate span // restA and restB: Restore (twice the work)
	merges, mergesNoVerify       []mergeRun
	editTime                     []span
	mergeEqual                   bool
}

func newAtollBench(w *workload, timeSigs bool) (*atollBench, error) {
	fed, err := newAtollFed()
	if err != nil {
		return nil, err
	}
	b := &atollBench{fed: fed, w: w, timeSigs: timeSigs}
	for i, r := range []**crdt.Replica{&b.writer, &b.receiver, &b.restA, &b.restB} {
		if *r, err = fed.replica(i % len(sites)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// createBlock writes records [from, to): one change each, three sets by the owning site.
func (b *atollBench) createBlock(from, to int) error {
	envs := make([]*crdt.Envelope, 0, to-from)
	clk := startClock()
	for _, rec := range b.w.records[from:to] {
		ops := make([]crdt.Op, len(fields))
		for f, name := range fields {
			ops[f] = statusSet(rec.key, name, initial[f])
		}
		env, _, err := b.writer.Write(b.fed.sites[rec.site], ops, nil, nil)
		if err != nil {
			return fmt.Errorf("atoll create %s: %w", rec.key, err)
		}
		b.createBytes += len(env.Encode())
		envs = append(envs, env)
	}
	b.create = b.create.plus(clk.elapsed())
	d, err := b.signatureCost(envs)
	b.createSig = b.createSig.plus(d)
	return err
}

// updateBlock writes updates [from, to): one change each, signed by the owning site.
func (b *atollBench) updateBlock(from, to int) error {
	envs := make([]*crdt.Envelope, 0, to-from)
	clk := startClock()
	for _, u := range b.w.updates[from:to] {
		rec := b.w.records[u.rec]
		env, _, err := b.writer.Write(b.fed.sites[rec.site], []crdt.Op{statusSet(rec.key, fields[u.field], u.value)}, nil, nil)
		if err != nil {
			return fmt.Errorf("atoll update %s: %w", rec.key, err)
		}
		b.updateBytes += len(env.Encode())
		envs = append(envs, env)
	}
	b.update = b.update.plus(clk.elapsed())
	d, err := b.signatureCost(envs)
	b.updateSig = b.updateSig.plus(d)
	return err
}

// domainSign is crdt's signing domain (unexported there); the verify check below fails
// loudly if it ever changes, so the signature figures cannot silently measure the wrong thing.
const domainSign = "atoll/sign/v1\x00"

// sigSample: signatureCost times one message in sigSample. 1, every message: samples
// of a quarter proved too noisy on a shared 2-core machine.
const sigSample = 1

// signatureCost times ed25519.Sign and ed25519.Verify alone on the messages the writer
// just signed and every replica verifies (one in sigSample of them), right after writing
// them, so under the same machine load, and returns the cost scaled to the whole block.
func (b *atollBench) signatureCost(envs []*crdt.Envelope) (span, error) {
	if !b.timeSigs {
		return span{}, nil
	}
	type item struct {
		priv     ed25519.PrivateKey
		pub      []byte
		msg, sig []byte
	}
	byKey := map[crdt.PubKey]*crdt.Signer{}
	for _, s := range b.fed.sites {
		byKey[s.Public()] = s
	}
	items := make([]item, 0, len(envs)/sigSample+1)
	for i, env := range envs {
		if i%sigSample != 0 {
			continue
		}
		c := env.Change
		if len(c.Cosigs) != 0 {
			return span{}, fmt.Errorf("unexpected cosignatures")
		}
		// The signed bytes: the header minus the cosig count (1 byte) and the signature.
		msg := append([]byte(domainSign), env.Header[:len(env.Header)-1-64]...)
		items = append(items, item{priv: byKey[c.Author].PrivateKey(), pub: c.Author[:], msg: msg, sig: c.Sig[:]})
	}
	clk := startClock()
	for _, it := range items {
		_ = ed25519.Sign(it.priv, it.msg)
	}
	sign := clk.elapsed()
	clk = startClock()
	ok := true
	for _, it := range items {
		ok = ed25519.Verify(it.pub, it.msg, it.sig) && ok
	}
	verify := clk.elapsed()
	if !ok {
		return span{}, fmt.Errorf("ed25519 check: a signature did not verify: the bench's idea of the signed bytes is out of date with crdt")
	}
	b.sigSign = b.sigSign.plus(sign)
	b.sigVerify = b.sigVerify.plus(verify)
	b.sigCount += len(items)
	// Scale the sample to the block: what signing and verifying all of it costs.
	both := sign.plus(verify)
	k := float64(len(envs)) / float64(len(items))
	return span{time.Duration(float64(both.Wall) * k), time.Duration(float64(both.CPU) * k)}, nil
}

// collect lists the writer's changes (genesis excluded) for the replay.
func (b *atollBench) collect() {
	b.envs = b.envs[:0]
	b.writer.Changes(func(id crdt.Hash, env []byte) bool {
		if id != b.writer.Genesis() {
			b.envs = append(b.envs, env)
		}
		return true
	})
}

// replayBlock gives envelopes [from, to) to the receiver (Receive) and to restA and restB
// (Restore), timing each.
func (b *atollBench) replayBlock(from, to int) error {
	creates := from < len(b.w.records)
	clk := startClock()
	for _, raw := range b.envs[from:to] {
		if r := b.receiver.Receive(raw); len(r.Stored) != 1 {
			return fmt.Errorf("atoll replay: stored %d, rejected %v, buffered %d", len(r.Stored), r.Rejected, r.Buffered)
		}
	}
	d := clk.elapsed()
	clk = startClock()
	for _, r := range []*crdt.Replica{b.restA, b.restB} {
		for _, raw := range b.envs[from:to] {
			if err := r.Restore(raw); err != nil {
				return fmt.Errorf("atoll restore: %w", err)
			}
		}
	}
	dr := clk.elapsed()
	if creates {
		b.applyCreate = b.applyCreate.plus(d)
		b.restoreCreate = b.restoreCreate.plus(dr)
	} else {
		b.applyUpdate = b.applyUpdate.plus(d)
		b.restoreUpdate = b.restoreUpdate.plus(dr)
	}
	return nil
}

func (b *atollBench) checkReplay() error {
	d := b.writer.Digest()
	for _, r := range []*crdt.Replica{b.receiver, b.restA, b.restB} {
		if r.Digest() != d || r.Len() != b.writer.Len() {
			return fmt.Errorf("atoll replay: %s differs from the writer %s", r, b.writer)
		}
	}
	return nil
}

// merge runs repetition rep of (c): the two forks write their edits concurrently, then
// each receives the other's envelopes, one by one, in the order they were written. The
// Restore pair gets the same edits and merges without signature checks.
func (b *atollBench) merge(rep int) error {
	a, c := b.writer, b.receiver
	if a.Digest() != c.Digest() || b.restA.Digest() != a.Digest() || b.restB.Digest() != a.Digest() {
		return fmt.Errorf("atoll merge %d: forks do not start equal", rep)
	}
	sent := [2][][]byte{}
	clk := startClock()
	for side, r := range []*crdt.Replica{a, c} {
		for _, u := range b.w.edits[rep][side] {
			rec := b.w.records[u.rec]
			env, _, err := r.Write(b.fed.sites[rec.site], []crdt.Op{statusSet(rec.key, fields[u.field], u.value)}, nil, nil)
			if err != nil {
				return fmt.Errorf("atoll edit: %w", err)
			}
			sent[side] = append(sent[side], env.Encode())
		}
	}
	b.editTime = append(b.editTime, clk.elapsed())
	for side, r := range []*crdt.Replica{b.restA, b.restB} { // the Restore pair mirrors the forks
		for _, raw := range sent[side] {
			if err := r.Restore(raw); err != nil {
				return err
			}
		}
	}
	var run mergeRun
	for _, s := range sent {
		for _, raw := range s {
			run.bytes += len(raw)
			run.msgs++
		}
	}
	noVerify := run

	clk = startClock()
	for side, r := range []*crdt.Replica{a, c} {
		for _, raw := range sent[1-side] {
			if res := r.Receive(raw); len(res.Stored) != 1 {
				return fmt.Errorf("atoll merge: stored %d, rejected %v, buffered %d", len(res.Stored), res.Rejected, res.Buffered)
			}
		}
	}
	run.time = clk.elapsed()
	b.merges = append(b.merges, run)

	clk = startClock()
	for side, r := range []*crdt.Replica{b.restA, b.restB} {
		for _, raw := range sent[1-side] {
			if err := r.Restore(raw); err != nil {
				return err
			}
		}
	}
	noVerify.time = clk.elapsed()
	b.mergesNoVerify = append(b.mergesNoVerify, noVerify)

	d := a.Digest()
	for _, r := range []*crdt.Replica{c, b.restA, b.restB} {
		if r.Digest() != d || r.Len() != a.Len() {
			return fmt.Errorf("atoll merge %d: replicas differ after merge: %s vs %s", rep, a, r)
		}
	}
	b.mergeEqual = true
	return nil
}
