package crdt

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sent is one call of Config.BodySent.
type sent struct {
	id    Hash
	peer  PubKey
	bound []string
}

// auditedReplica returns a replica of the named site that records every BodySent call.
func (f *fed) auditedReplica(t testing.TB, site string, log *[]sent) *Replica {
	t.Helper()
	r, err := NewReplica(Config{Genesis: f.genesis.Encode(), Self: f.sites[site].Public(),
		BodySent: func(id Hash, peer PubKey, bound []string) { *log = append(*log, sent{id, peer, bound}) }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeBounded writes an EU-bound sealed workload at r and returns it with its body.
func writeBounded(t testing.TB, f *fed, r *Replica, name string) (*Envelope, []byte) {
	t.Helper()
	body := []byte(`{"containers":[{"name":"app","image":"bank:1","env":[{"name":"IBAN_KEY","value":"` + name + `"}]}]}`)
	ops := []Op{
		set(KindWorkload, "bank/"+name, "bound", "EU"),
		SealOp(KindWorkload, "bank/"+name, "template", body),
	}
	env, _, err := r.Write(f.ops["root"], ops, [][]byte{body}, []string{"EU"})
	if err != nil {
		t.Fatal(err)
	}
	return env, body
}

// Every body an anti-entropy session hands to a peer goes through Config.BodySent, on
// either side of the session, and no body goes to a peer outside the bound.
func TestSyncAuditsBodies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		initiator bool // the replica holding the body starts the session
	}{{"holder responds", false}, {"holder initiates", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFed(t)
			var log []sent
			eu := f.auditedReplica(t, "eu-west", &log)
			eu2, us := f.replica(t, "eu-north"), f.replica(t, "us-east")
			env, body := writeBounded(t, f, eu, "ledger")
			if len(log) != 0 {
				t.Fatalf("BodySent called by a local write: %+v", log)
			}
			for _, peer := range []*Replica{eu2, us} {
				if tc.initiator {
					runSync(t, eu, peer, 7)
				} else {
					runSync(t, peer, eu, 7)
				}
			}
			if !eu2.HoldsBodies(env.ID) {
				t.Fatal("the EU peer did not get the body in the session")
			}
			if v, _ := us.Get(KindWorkload, "bank/ledger", "template"); !v.Redacted || v.Bytes != nil {
				t.Fatalf("the US peer sees %+v", v)
			}
			want := []sent{{env.ID, eu2.Self(), []string{"EU"}}}
			if len(log) != 1 || log[0].id != want[0].id || log[0].peer != want[0].peer || !slices.Equal(log[0].bound, want[0].bound) {
				t.Fatalf("BodySent calls %+v, want exactly %+v: a session handed out a body (%d bytes) unaudited", log, want, len(body))
			}
		})
	}
}

// chartered returns a charter change, signed by two admins at r, with ops.
func chartered(t testing.TB, f *fed, r *Replica, ops ...Op) *Envelope {
	t.Helper()
	env, _, err := r.Write(f.admins[0], ops, nil, nil, f.admins[2])
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// A charter change that takes a site out of a body's bound (a new jurisdiction, or the
// site removed) makes its replica drop the body: it no longer holds, shows or serves it,
// does not ask for it, reports the change header-only in Result.Stored to be persisted
// again, and counts only the header in the operator's usage. A change that brings the
// site back makes it ask for the body again.
func TestCharterChangeDropsBodies(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  Op
	}{
		{"moved to US", set(KindCharter, "", "site/eu-north/jurisdiction", "US")},
		{"removed", Op{Type: OpDelete, Kind: KindCharter, Field: "site/eu-north/key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFed(t)
			eu := f.replica(t, "eu-west")
			var log []sent
			eu2 := f.auditedReplica(t, "eu-north", &log)
			env, body := writeBounded(t, f, eu, "ledger")
			runSync(t, eu2, eu, 1)
			if !eu2.HoldsBodies(env.ID) {
				t.Fatal("eu-north did not get the body")
			}
			root := f.ops["root"].Public()
			if got, want := eu2.Used(root), uint64(len(env.Header)+len(body)); got != want {
				t.Fatalf("usage %d before the charter change, want %d", got, want)
			}

			out := chartered(t, f, eu, tc.out)
			res := eu2.ReceiveEnvelope(out)
			if len(res.Rejected) != 0 {
				t.Fatalf("charter change rejected: %+v", res.Rejected)
			}
			var replaced *Envelope
			for _, e := range res.Stored {
				if e.ID == env.ID {
					replaced = e
				}
			}
			switch {
			case replaced == nil:
				t.Fatalf("Result.Stored has %d records, none for %s: the data file keeps its body", len(res.Stored), env.ID)
			case len(replaced.Bodies) != 0 || bytes.Contains(replaced.Encode(), body) || replaced.Change == nil:
				t.Fatalf("the record to persist again still has its body: %+v", replaced)
			}
			if eu2.HoldsBodies(env.ID) || eu2.Lacking() != 0 {
				t.Fatalf("after the charter change: holds %v, lacking %d; want neither", eu2.HoldsBodies(env.ID), eu2.Lacking())
			}
			if v, _ := eu2.Get(KindWorkload, "bank/ledger", "template"); !v.Redacted || v.Bytes != nil {
				t.Fatalf("eu-north still shows %+v", v)
			}
			if b, _ := eu2.Envelope(env.ID); bytes.Contains(b, body) {
				t.Fatal("eu-north still encodes the body")
			}
			// A fresh EU replica syncing from it gets no body from it, and nothing is audited.
			fresh := f.replica(t, "eu-west")
			runSync(t, fresh, eu2, 3)
			if fresh.HoldsBodies(env.ID) || len(log) != 0 {
				t.Fatalf("eu-north served the body after the charter change (BodySent %+v)", log)
			}
			// The usage counts the header only, as at a replica that got the change after the charter change.
			late := f.replica(t, "eu-north")
			runSync(t, late, eu, 5)
			if got, want := eu2.Used(root), late.Used(root); got != want || got != uint64(len(env.Header)) {
				t.Fatalf("usage %d after dropping the body, %d at a replica that never held it, want the header's %d", got, want, len(env.Header))
			}
			if eu2.Digest() != eu.Digest() {
				t.Fatal("digests differ")
			}

			// Brought back into the EU, it asks for the body again and gets it.
			back := chartered(t, f, eu, CharterSpec{Sites: []SiteInfo{{Name: "eu-north", Key: f.sites["eu-north"].Public(), Region: "eu-north-1", Jurisdiction: "EU"}}}.Ops()...)
			if res := eu2.ReceiveEnvelope(back); len(res.Rejected) != 0 || eu2.Lacking() != 1 {
				t.Fatalf("back in the EU: %+v, lacking %d, want 1", res, eu2.Lacking())
			}
			runSync(t, eu2, eu, 9)
			if !eu2.HoldsBodies(env.ID) || eu2.Used(root) != uint64(len(env.Header)+len(body)) {
				t.Fatalf("back in the EU: holds %v, usage %d", eu2.HoldsBodies(env.ID), eu2.Used(root))
			}
		})
	}
}

// A change whose body arrives in the same batch as the charter change that takes the
// site out ends header-only, whatever the order inside the batch: the last record of an
// id in Result.Stored is the one to keep.
func TestDropInSameResult(t *testing.T) {
	f := newFed(t)
	eu := f.replica(t, "eu-west")
	eu2 := f.replica(t, "eu-north")
	env, _ := writeBounded(t, f, eu, "ledger")
	out := chartered(t, f, eu, set(KindCharter, "", "site/eu-north/jurisdiction", "US"))
	var res Result
	res.add(eu2.ReceiveEnvelope(env))
	res.add(eu2.ReceiveEnvelope(out))
	last := map[Hash]*Envelope{}
	for _, e := range res.Stored {
		last[e.ID] = e
	}
	if e := last[env.ID]; e == nil || len(e.Bodies) != 0 {
		t.Fatalf("last record of %s: %+v, want header-only", env.ID, e)
	}
}

// TestOneWayOut keeps release the only function that decides to hand a peer a body:
// mayHold is called there only, and a node is encoded (node.envelope) only by release and
// by the functions that return what the replica holds to its own site. A new path that
// encodes nodes must either go through release or be added here after review.
func TestOneWayOut(t *testing.T) {
	allowed := map[string][]string{
		"mayHold":  {"release"},
		"envelope": {"release", "Envelope", "Changes", "CharterChanges"},
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(x ast.Node) bool {
				call, ok := x.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if ok, listed := allowed[sel.Sel.Name]; listed && !slices.Contains(ok, fn.Name.Name) {
					t.Errorf("%s: %s calls %s: bodies leave the replica through release only (bodies.go)", fset.Position(call.Pos()), fn.Name.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
