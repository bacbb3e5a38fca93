package crdt

import (
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
