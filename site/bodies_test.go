package site

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/core"
	"atoll/site/store"
	"atoll/site/transport"
)

// peerS1 is the key of s1, the other EU site of boundFed's federation.
var peerS1 = crdt.SignerFromSeed([]byte(strings.Repeat("1", 32)))

// boundFed is a federation of two EU sites (the fixture's s0 and s1) with an admin and
// an operator, on disk, and a writer replica with s0's identity; it returns an EU-bound
// sealed workload and a charter change that moves s0 to the US, both written on top of
// the genesis by the writer.
func boundFed(t *testing.T) (f *fixture, bounded, moved *crdt.Envelope, body []byte) {
	t.Helper()
	f = newFixture(t)
	admin := crdt.SignerFromSeed([]byte(strings.Repeat("a", 32)))
	operator := crdt.SignerFromSeed([]byte(strings.Repeat("o", 32)))
	genesis, err := crdt.NewGenesis(crdt.CharterSpec{Name: "test", Threshold: 1,
		Admins: []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites: []crdt.SiteInfo{{Name: "s0", Key: f.signer.Public(), Region: "r0", Jurisdiction: "EU"},
			{Name: "s1", Key: peerS1.Public(), Region: "r1", Jurisdiction: "EU"}},
		Operators: []crdt.OperatorInfo{{Name: "ops", Key: operator.Public(), Namespaces: []string{"*"}}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg.Path(f.cfg.Genesis), genesis.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	if f.rep, err = crdt.NewReplica(crdt.Config{Genesis: genesis.Encode(), Self: f.signer.Public()}); err != nil {
		t.Fatal(err)
	}
	body = []byte(`{"containers":[{"name":"app","image":"bank:1","env":[{"name":"IBAN_KEY","value":"DE89-canary"}]}]}`)
	bounded, _, err = f.rep.Write(operator, []crdt.Op{
		{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: "bank/ledger", Field: "bound", Value: []byte("EU")},
		crdt.SealOp(crdt.KindWorkload, "bank/ledger", "template", body),
	}, [][]byte{body}, []string{"EU"})
	if err != nil {
		t.Fatal(err)
	}
	moved, _, err = f.rep.Write(admin, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: "site/s0/jurisdiction", Value: []byte("US")}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, bounded, moved, body
}

// recordOf returns the stored record of change id in the site's data file, opened with
// the site's data key (records are sealed: the raw file says nothing).
func recordOf(t *testing.T, f *fixture, id crdt.Hash) []byte {
	t.Helper()
	st, err := store.Open(f.cfg.DataFile(), store.Options{ReadOnly: true, Key: f.key(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var data []byte
	if err := st.Load(func(r store.Record) error {
		if r.ID == id {
			data = r.Data
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if data == nil {
		t.Fatalf("change %s is not in the data file", id)
	}
	return data
}

func openSite(t *testing.T, f *fixture) *Site {
	t.Helper()
	s, err := Open(f.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A charter change that moves the site out of a body's bound drops the body from its
// data file, not only from memory: the record of the change is header-only afterwards.
func TestCharterChangeDropsBodyFromDataFile(t *testing.T) {
	f, bounded, moved, body := boundFed(t)
	s := openSite(t, f)
	s.step(func(c *core.Core) { c.Submit(bounded.Encode()) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(recordOf(t, f, bounded.ID), body) {
		t.Fatal("the EU site did not store the EU-bound body")
	}

	s = openSite(t, f)
	var res crdt.Result
	s.step(func(c *core.Core) { res = c.Submit(moved.Encode()) })
	s.mu.Lock()
	holds := s.rep.HoldsBodies(bounded.ID)
	s.mu.Unlock()
	if len(res.Rejected) != 0 || holds {
		t.Fatalf("the charter change: %+v; the site still holds the body: %v", res.Rejected, holds)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec := recordOf(t, f, bounded.ID)
	env, err := crdt.DecodeEnvelope(rec)
	if err != nil || len(env.Bodies) != 0 || bytes.Contains(rec, body) {
		t.Fatalf("after the charter change the data file holds change %s with %d bodies (%v): it was not replaced header-only", bounded.ID, len(env.Bodies), err)
	}
	// Reopened, the site serves the change header-only.
	s = openSite(t, f)
	defer s.Close()
	if b, _ := s.rep.Envelope(bounded.ID); bytes.Contains(b, body) {
		t.Fatal("reopened, the site holds the body again")
	}
}

// A data file written before sites dropped bodies holds a body the charter no longer
// lets the site hold: Open replaces its record header-only.
func TestOpenDropsBodiesOfEarlierRelease(t *testing.T) {
	f, bounded, moved, body := boundFed(t)
	path := f.cfg.DataFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path, store.Options{NoSync: true, Key: f.key(t)})
	if err != nil {
		t.Fatal(err)
	}
	// What the earlier release stored: the change with its body, then the charter change.
	if err := st.Append([]store.Record{{ID: bounded.ID, Data: bounded.Encode()}, {ID: moved.ID, Data: moved.Encode()}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	s := openSite(t, f)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if rec := recordOf(t, f, bounded.ID); bytes.Contains(rec, body) {
		t.Fatal("after Open the data file still holds the body the charter no longer allows")
	}
}

// A body that an anti-entropy session hands to a peer is in the site's residency audit,
// as one pushed to it is: the site answers a session of s1, an empty EU peer, through
// converse, and its audit then has a "sent" record of the bounded change to s1.
func TestSessionBodyIsAudited(t *testing.T) {
	f, bounded, _, body := boundFed(t)
	s := openSite(t, f)
	defer s.Close()
	s.step(func(c *core.Core) { c.Submit(bounded.Encode()) })

	genesis, err := os.ReadFile(f.cfg.Path(f.cfg.Genesis))
	if err != nil {
		t.Fatal(err)
	}
	peer, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: peerS1.Public()})
	if err != nil {
		t.Fatal(err)
	}
	here, there := net.Pipe()
	done := make(chan error, 1)
	s.mu.Lock()
	sess1, err := s.core.Respond("s1", peerS1.Public())
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- s.converse(&transport.Conn{Conn: here, Peer: "s1"}, sess1, nil)
		here.Close()
	}()
	sess, msg := peer.Initiate(f.signer.Public(), 42)
	r, w := bufio.NewReader(there), bufio.NewWriter(there)
	for {
		if msg != nil {
			if err := peering.WriteFrame(w, msg); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if sess.Done() {
			break
		}
		in, err := peering.ReadFrame(r, maxSyncFrame)
		if err != nil {
			t.Fatal(err)
		}
		if msg, _, err = sess.Step(in); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("the site's side of the session: %v", err)
	}
	there.Close()
	if !peer.HoldsBodies(bounded.ID) {
		t.Fatal("the EU peer did not get the body in the session")
	}
	if v, _ := peer.Get(crdt.KindWorkload, "bank/ledger", "template"); !bytes.Equal(v.Bytes, body) {
		t.Fatalf("the peer's template: %+v", v)
	}

	s.flushAudit()
	var sent []AuditRecord
	s.mu.Lock()
	err = s.st.Audit("sent/", func(_ string, v []byte) error {
		var rec AuditRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		sent = append(sent, rec)
		return nil
	})
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Change != bounded.ID.Hex() || sent[0].Peer != "s1" || sent[0].Jurisdiction != "EU" || sent[0].Breach() {
		t.Fatalf("audit records of bodies sent: %+v; want one, of change %s to s1 (EU)", sent, bounded.ID)
	}
}
