package main

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/automerge/automerge-go"
)

// amBench drives automerge-go through the workload. Times are totals over a phase.
type amBench struct {
	w *workload
	// writer writes (a) and (b); receiver applies every change. After the replay they are
	// the fork pair of (c).
	writer, receiver *automerge.Doc
	status           *automerge.Map
	handles          []*automerge.Map // the writer's record maps, kept so updates need no lookup
	raws             [][]byte

	create, update           span // set, commit, fetch the change's bytes
	createBytes, updateBytes int
	applyCreate, applyUpdate span // receiver: LoadIncremental of each change
	saveIncremental          span // one SaveIncremental after one commit, at full size (median)
	saveIncrementalBytes     int

	// (c), one entry per repetition.
	applyEach, applyBatch, docMerge, syncWarm, syncCold []mergeRun
	handshakeBytes                                      int // fresh sync states, docs already equal
	editTime                                            []span
	mergeEqual                                          bool
}

func newAMBench(w *workload) (*amBench, error) {
	b := &amBench{w: w, writer: automerge.New(), receiver: automerge.New(), handles: make([]*automerge.Map, len(w.records))}
	b.status = automerge.NewMap()
	if err := b.writer.RootMap().Set("status", b.status); err != nil {
		return nil, err
	}
	if _, err := b.writer.Commit(""); err != nil {
		return nil, err
	}
	return b, nil
}

// commitBytes commits pending operations and returns the new change's encoding.
func commitBytes(d *automerge.Doc) ([]byte, error) {
	h, err := d.Commit("")
	if err != nil {
		return nil, err
	}
	c, err := d.Change(h)
	if err != nil {
		return nil, err
	}
	return c.Save(), nil
}

// createBlock writes records [from, to): one commit each, a map with the three fields.
func (b *amBench) createBlock(from, to int) error {
	clk := startClock()
	for i := from; i < to; i++ {
		m := automerge.NewMap()
		if err := b.status.Set(b.w.records[i].key, m); err != nil {
			return err
		}
		for f, name := range fields {
			if err := m.Set(name, initial[f]); err != nil {
				return err
			}
		}
		raw, err := commitBytes(b.writer)
		if err != nil {
			return fmt.Errorf("automerge create %s: %w", b.w.records[i].key, err)
		}
		b.createBytes += len(raw)
		b.handles[i] = m
	}
	b.create = b.create.plus(clk.elapsed())
	return nil
}

// updateBlock writes updates [from, to): one commit each.
func (b *amBench) updateBlock(from, to int) error {
	clk := startClock()
	for _, u := range b.w.updates[from:to] {
		if err := b.handles[u.rec].Set(fields[u.field], u.value); err != nil {
			return err
		}
		raw, err := commitBytes(b.writer)
		if err != nil {
			return fmt.Errorf("automerge update: %w", err)
		}
		b.updateBytes += len(raw)
	}
	b.update = b.update.plus(clk.elapsed())
	return nil
}

// collect lists the writer's changes for the replay and applies the setup change (the
// one creating "status") to the receiver, untimed.
func (b *amBench) collect() error {
	chs, err := b.writer.Changes()
	if err != nil {
		return err
	}
	b.raws = make([][]byte, len(chs))
	for i, c := range chs {
		b.raws[i] = c.Save()
	}
	if len(b.raws) != 1+len(b.w.records)+len(b.w.updates) {
		return fmt.Errorf("automerge: %d changes, want %d", len(b.raws), 1+len(b.w.records)+len(b.w.updates))
	}
	b.raws = b.raws[1:]
	return b.receiver.LoadIncremental(chs[0].Save())
}

// replayBlock applies changes [from, to) (as numbered in Atoll's replay) to the receiver,
// one LoadIncremental each. automerge-go's LoadChanges parses a whole document, so it fails
// on one change that has dependencies; the C API's AMchangeFromBytes is not wrapped.
func (b *amBench) replayBlock(from, to int) error {
	clk := startClock()
	for _, raw := range b.raws[from:to] {
		if err := b.receiver.LoadIncremental(raw); err != nil {
			return err
		}
	}
	if from < len(b.w.records) {
		b.applyCreate = b.applyCreate.plus(clk.elapsed())
	} else {
		b.applyUpdate = b.applyUpdate.plus(clk.elapsed())
	}
	return nil
}

func (b *amBench) checkReplay() error {
	if !sameHeads(b.writer, b.receiver) {
		return fmt.Errorf("automerge replay: heads differ")
	}
	return nil
}

// recordMap looks a record's map up by key.
func recordMap(d *automerge.Doc, key string) (*automerge.Map, error) {
	st, err := d.RootMap().Get("status")
	if err != nil {
		return nil, err
	}
	v, err := st.Map().Get(key)
	if err != nil {
		return nil, err
	}
	if v.Kind() != automerge.KindMap {
		return nil, fmt.Errorf("record %s is %v, not a map", key, v.Kind())
	}
	return v.Map(), nil
}

func sameHeads(a, b *automerge.Doc) bool {
	ha, hb := a.Heads(), b.Heads()
	cmp := func(x, y automerge.ChangeHash) int { return bytes.Compare(x[:], y[:]) }
	slices.SortFunc(ha, cmp)
	slices.SortFunc(hb, cmp)
	return slices.Equal(ha, hb)
}

// sampleSaveIncremental times SaveIncremental after single commits on a fork of the writer:
// the other way to get "what changed since last time".
func (b *amBench) sampleSaveIncremental() error {
	f, err := b.writer.Fork()
	if err != nil {
		return err
	}
	f.SaveIncremental() // everything so far; the calls below each carry one change
	var times []span
	var sizes []int64
	for i := range 9 {
		m, err := recordMap(f, b.w.records[i].key)
		if err != nil {
			return err
		}
		if err := m.Set("ready", int64(-1-i)); err != nil {
			return err
		}
		if _, err := f.Commit(""); err != nil {
			return err
		}
		clk := startClock()
		raw := f.SaveIncremental()
		times = append(times, clk.elapsed())
		sizes = append(sizes, int64(len(raw)))
	}
	b.saveIncremental = medianSpan(times)
	b.saveIncrementalBytes = int(median(sizes))
	return nil
}

// merge runs repetition rep of (c): the two documents (equal at the start) each commit
// their edits, then merge in several ways; each way starts from its own forks, except the
// headline apply-each, which advances writer and receiver themselves.
func (b *amBench) merge(rep int) error {
	a, c := b.writer, b.receiver
	if !sameHeads(a, c) {
		return fmt.Errorf("forks do not start equal")
	}
	// A sync session while equal, so the warm sync below resumes from shared heads.
	ssA, ssC := automerge.NewSyncState(a), automerge.NewSyncState(c)
	hs, err := runSync(ssA, ssC)
	if err != nil {
		return err
	}
	if rep == 0 {
		b.handshakeBytes = hs.bytes
	}
	warmA, warmC := ssA.Save(), ssC.Save()

	sent := [2][][]byte{}
	clk := startClock()
	for side, d := range []*automerge.Doc{a, c} {
		for _, u := range b.w.edits[rep][side] {
			m, err := recordMap(d, b.w.records[u.rec].key)
			if err != nil {
				return err
			}
			if err := m.Set(fields[u.field], u.value); err != nil {
				return err
			}
			raw, err := commitBytes(d)
			if err != nil {
				return err
			}
			sent[side] = append(sent[side], raw)
		}
	}
	b.editTime = append(b.editTime, clk.elapsed())
	shipped := 0
	for _, s := range sent {
		for _, raw := range s {
			shipped += len(raw)
		}
	}

	forks := func() (*automerge.Doc, *automerge.Doc, error) {
		fa, err := a.Fork()
		if err != nil {
			return nil, nil, err
		}
		fc, err := c.Fork()
		return fa, fc, err
	}
	check := func(x, y *automerge.Doc, what string) error {
		if !sameHeads(x, y) {
			return fmt.Errorf("%s: heads differ after merge", what)
		}
		return nil
	}

	// Batch: each side loads the other's changes as one byte string (one LoadIncremental).
	fa, fc, err := forks()
	if err != nil {
		return err
	}
	clk = startClock()
	for side, d := range []*automerge.Doc{fa, fc} {
		if err := d.LoadIncremental(bytes.Join(sent[1-side], nil)); err != nil {
			return err
		}
	}
	b.applyBatch = append(b.applyBatch, mergeRun{time: clk.elapsed(), bytes: shipped, msgs: 2})
	if err := check(fa, fc, "apply batch"); err != nil {
		return err
	}

	// Doc.Merge, in process: no bytes on any wire.
	if fa, fc, err = forks(); err != nil {
		return err
	}
	clk = startClock()
	if _, err := fa.Merge(fc); err != nil {
		return err
	}
	if _, err := fc.Merge(fa); err != nil {
		return err
	}
	b.docMerge = append(b.docMerge, mergeRun{time: clk.elapsed()})
	if err := check(fa, fc, "Doc.Merge"); err != nil {
		return err
	}

	// Sync protocol resuming from the sync states saved while equal.
	if fa, fc, err = forks(); err != nil {
		return err
	}
	sa, err := automerge.LoadSyncState(fa, warmA)
	if err != nil {
		return err
	}
	sc, err := automerge.LoadSyncState(fc, warmC)
	if err != nil {
		return err
	}
	clk = startClock()
	run, err := runSync(sa, sc)
	if err != nil {
		return err
	}
	run.time = clk.elapsed()
	b.syncWarm = append(b.syncWarm, run)
	if err := check(fa, fc, "warm sync"); err != nil {
		return err
	}

	// Sync protocol from fresh sync states (peers that never synced before).
	if fa, fc, err = forks(); err != nil {
		return err
	}
	clk = startClock()
	run, err = runSync(automerge.NewSyncState(fa), automerge.NewSyncState(fc))
	if err != nil {
		return err
	}
	run.time = clk.elapsed()
	b.syncCold = append(b.syncCold, run)
	if err := check(fa, fc, "cold sync"); err != nil {
		return err
	}

	// The headline, like Atoll's: each side receives the other's changes one at a time.
	clk = startClock()
	for side, d := range []*automerge.Doc{a, c} {
		for _, raw := range sent[1-side] {
			if err := d.LoadIncremental(raw); err != nil {
				return err
			}
		}
	}
	b.applyEach = append(b.applyEach, mergeRun{time: clk.elapsed(), bytes: shipped, msgs: len(sent[0]) + len(sent[1])})
	if err := check(a, c, "apply each"); err != nil {
		return err
	}
	// Same values on both sides for every edited field, not only the same heads.
	for side := range 2 {
		for _, u := range b.w.edits[rep][side] {
			key := b.w.records[u.rec].key
			ma, err := recordMap(a, key)
			if err != nil {
				return err
			}
			mc, err := recordMap(c, key)
			if err != nil {
				return err
			}
			va, err1 := ma.Get(fields[u.field])
			vc, err2 := mc.Get(fields[u.field])
			if err1 != nil || err2 != nil || va.Int64() != vc.Int64() {
				return fmt.Errorf("apply each: %s %s differs", key, fields[u.field])
			}
		}
	}
	b.mergeEqual = true
	return nil
}

// runSync runs a sync session in rounds: in each, both peers generate their message (as
// two networked peers do on connecting), then each receives the other's. It ends when
// neither has anything to send. (Strictly alternating turns leave the first speaker
// without shared heads when the documents are already equal: the other never replies.)
func runSync(a, b *automerge.SyncState) (mergeRun, error) {
	var run mergeRun
	for range 100 {
		ma, okA := a.GenerateMessage()
		mb, okB := b.GenerateMessage()
		if !okA && !okB {
			return run, nil
		}
		for _, x := range []struct {
			m  *automerge.SyncMessage
			ok bool
			to *automerge.SyncState
		}{{ma, okA, b}, {mb, okB, a}} {
			if !x.ok {
				continue
			}
			raw := x.m.Bytes()
			run.bytes += len(raw)
			run.msgs++
			if _, err := x.to.ReceiveMessage(raw); err != nil {
				return run, err
			}
		}
	}
	return run, fmt.Errorf("sync did not finish in 100 rounds")
}
