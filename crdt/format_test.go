package crdt

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// raiseFormat amends the charter at r to level n with two admins' signatures.
func raiseFormat(t *testing.T, f *fed, r *Replica, n int) *Envelope {
	t.Helper()
	env, _, err := r.Write(f.admins[0], []Op{FormatOp(n)}, nil, nil, f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Charter().Format(); got != n {
		t.Fatalf("format %d after the amendment, want %d", got, n)
	}
	return env
}

// TestFormatField: the level is a number from 1 to MaxFormatValue, absent means 1, it
// cannot be deleted, and an amendment never lowers it.
func TestFormatField(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "")
	if got := r.Charter().Format(); got != 1 {
		t.Fatalf("a new charter has format %d, want 1", got)
	}
	for _, bad := range []string{"0", "-1", "01", "two", "", strconv.Itoa(MaxFormatValue + 1)} {
		op := FormatOp(1)
		op.Value = []byte(bad)
		if _, _, err := r.Write(f.admins[0], []Op{op}, nil, nil, f.admins[1]); err == nil || !strings.Contains(err.Error(), "not a level") {
			t.Errorf("format %q: %v, want an error naming the level", bad, err)
		}
	}
	del := Op{Type: OpDelete, Kind: KindCharter, Field: FormatField}
	if _, _, err := r.Write(f.admins[0], []Op{del}, nil, nil, f.admins[1]); err == nil {
		t.Error("deleted the format field")
	}
	raiseFormat(t, f, r, 2)
	if _, _, err := r.Write(f.admins[0], []Op{FormatOp(1)}, nil, nil, f.admins[1]); err == nil || !strings.Contains(err.Error(), "would lower") {
		t.Errorf("lowering the level: %v, want refused", err)
	}
	if got := r.Charter().Format(); got != 2 {
		t.Fatalf("format %d, want 2", got)
	}
}

// TestFormatBeyond: what this release does not know is invalid under a charter of a
// level it implements, whoever sent it, and held unjudged (neither stored nor rejected,
// its author not at fault) under a charter beyond this release, with the reason a site
// reports; what builds on it waits. What the release knows is still taken.
func TestFormatBeyond(t *testing.T) {
	f := newFed(t)
	w := f.replica(t, "")
	unknownField := set(KindSite, "eu-west", "colour", "blue")
	unknownKind := Op{Type: OpSet, Kind: maxKind + 1, Key: "x", Field: "y", Value: []byte("z")}

	// Level 1, and the highest this release implements: invalid.
	for _, level := range []int{1, MaxFormat} {
		r := f.replica(t, "")
		if level > 1 {
			raiseFormat(t, f, r, level)
		}
		for _, op := range []Op{unknownField, unknownKind} {
			author := f.sites["eu-west"]
			env, err := Sign(r.Prepare([]Op{op}, nil), nil, author)
			if err != nil {
				t.Fatal(err)
			}
			res := r.Receive(env.Encode())
			if len(res.Rejected) != 1 || res.Beyond != 0 || RejectReason(res.Rejected[0].Err) != ReasonStructure {
				t.Fatalf("level %d, %s: %+v, want rejected as structure", level, op.Kind, res)
			}
		}
	}

	// A charter beyond this release.
	amend := raiseFormat(t, f, w, MaxFormat+1)
	r := f.replica(t, "eu-north")
	if res := r.Receive(amend.Encode()); len(res.Stored) != 1 {
		t.Fatalf("the amendment raising the level: %+v", res)
	}
	if got := r.Charter().Format(); got != MaxFormat+1 {
		t.Fatalf("format %d", got)
	}
	var held []*Envelope
	for _, op := range []Op{unknownField, unknownKind} {
		env, err := Sign(r.Prepare([]Op{op}, nil), nil, f.sites["eu-west"])
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, env)
		for range 2 { // and again, as anti-entropy brings it
			res := r.Receive(env.Encode())
			if len(res.Rejected) != 0 || len(res.Stored) != 0 || res.Beyond != 1 {
				t.Fatalf("%s under format %d: %+v, want held", op.Kind, MaxFormat+1, res)
			}
		}
	}
	n, why := r.Beyond()
	if n != 2 || !errors.Is(why, ErrBeyond) || !strings.Contains(why.Error(), fmt.Sprintf("the charter requires format %d, this release implements %d", MaxFormat+1, MaxFormat)) {
		t.Fatalf("Beyond() = %d, %v", n, why)
	}
	// What builds on a held change waits for it; what does not is taken.
	after, err := Sign(&Change{Deps: []Hash{held[0].ID}, Lamport: held[0].Change.Lamport + 1,
		Ops: []Op{set(KindSite, "eu-west", "version", "2")}}, nil, f.sites["eu-west"])
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Receive(after.Encode()); res.Buffered != 1 {
		t.Fatalf("a change on a held one: %+v, want buffered", res)
	}
	known := mustWrite(t, r, f.sites["eu-north"], set(KindSite, "eu-north", "version", "2"))
	if !r.Has(known.ID) {
		t.Fatal("a change of known fields under the higher level was not stored")
	}
}

// TestSoftOfALaterLevel: a site writes a Job's counts only under a charter of their
// level; a reader holds a record with fields it does not know, from a writer ahead of
// it, without counting it as malformed, and shows only the fields it knows.
func TestSoftOfALaterLevel(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	mustWrite(t, r, f.ops["root"], set(KindWorkload, "shop/job", "replicas", "2"))
	for _, site := range []string{"eu-west", "eu-north"} {
		mustWrite(t, r, f.sites[site], set(KindCluster, site+"/c0", "region", site))
	}
	counts := []SoftField{{"desired", []byte("2")}, {"succeeded", []byte("1")}}
	if _, err := r.WriteSoft(f.sites["eu-west"], 1, KindStatus, "shop/job/eu-west/c0", counts); err == nil || !strings.Contains(err.Error(), "needs format level 2") {
		t.Fatalf("Job counts under format 1: %v, want refused", err)
	}
	raiseFormat(t, f, r, FormatJobs)
	if _, err := r.WriteSoft(f.sites["eu-west"], 2, KindStatus, "shop/job/eu-west/c0", counts); err != nil {
		t.Fatal(err)
	}

	// A record of a later release, as its writer signs it.
	rec := &SoftRecord{Kind: KindStatus, Key: "shop/job/eu-north/c0", Seq: 1, Fields: []SoftField{
		{"desired", []byte("2")}, {"ready", []byte("2")}, {"zzz-later", []byte("9")}}}
	raw := signSoftUnchecked(f, rec, f.sites["eu-north"])
	if _, err := r.ReceiveSoft(raw); err != nil {
		t.Fatalf("a record with a field of a later release: %v", err)
	}
	obj, ok := r.Object(KindStatus, "shop/job/eu-north/c0")
	if !ok || string(obj["ready"].Bytes) != "2" {
		t.Fatalf("status %v", obj)
	}
	if _, shown := obj["zzz-later"]; shown {
		t.Fatal("a field this release does not know is shown")
	}
	// A name that is not a field name at all stays malformed.
	rec.Fields[2].Name = "not a field!"
	if _, err := r.ReceiveSoft(signSoftUnchecked(f, rec, f.sites["eu-north"])); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an invalid field name: %v, want ErrMalformed", err)
	}
}

// signSoftUnchecked signs a record as a later release would, without this release's
// writer checks.
func signSoftUnchecked(f *fed, rec *SoftRecord, s *Signer) []byte {
	copy(rec.Sig[:], ed25519.Sign(s.priv, softMessage(f.genesis.ID, rec.appendUnsigned(nil))))
	return rec.Encode()
}

// TestClusterScopedTemplates: a cluster-scoped template ("/<name>") needs level 3 in the
// causal past and an operator granted cluster scope, a grant itself needs level 3, and
// a namespaces grant of "*" is not enough.
func TestClusterScopedTemplates(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	crd := set(KindWorkload, "/widgets.example.com", "kind", "CustomResourceDefinition")
	grant := set(KindCharter, "", "operator/root/clusterscope", "true")
	raiseFormat(t, f, r, 2)
	for _, op := range []Op{crd, set(KindPolicy, InterpreterPolicy+"/widgets", "object", "{}")} {
		if _, _, err := r.Write(f.ops["root"], []Op{op}, nil, nil); err == nil || !strings.Contains(err.Error(), "needs format level 3") {
			t.Fatalf("%s %q under level 2: %v", op.Kind, op.Key, err)
		}
	}
	if _, _, err := r.Write(f.admins[0], []Op{grant}, nil, nil, f.admins[1]); err == nil || !strings.Contains(err.Error(), "needs format level 3") {
		t.Fatalf("a cluster-scope grant under level 2: %v", err)
	}
	raiseFormat(t, f, r, FormatClusterScope)
	if _, _, err := r.Write(f.ops["root"], []Op{crd}, nil, nil); err == nil || !strings.Contains(err.Error(), "cluster-scoped templates not granted to operator root") {
		t.Fatalf("an operator of every namespace without the grant: %v", err)
	}
	ric := set(KindPolicy, InterpreterPolicy+"/widgets", "object", "{}")
	if _, _, err := r.Write(f.ops["root"], []Op{ric}, nil, nil); err == nil || !strings.Contains(err.Error(), "an interpreter customization needs cluster scope") {
		t.Fatalf("a customization without cluster scope: %v", err)
	}
	bad := grant
	bad.Value = []byte("yes")
	if _, _, err := r.Write(f.admins[0], []Op{bad}, nil, nil, f.admins[1]); err == nil || !strings.Contains(err.Error(), "the only value") {
		t.Fatalf("clusterscope %q: %v", bad.Value, err)
	}
	mustWriteCosigned(t, r, f, grant)
	if op := r.Charter().Operators[f.ops["root"].Public()]; !op.ClusterScope {
		t.Fatal("the grant is not in the charter")
	}
	mustWrite(t, r, f.ops["root"], crd)
	mustWrite(t, r, f.ops["root"], ric)
	if _, _, err := r.Write(f.ops["shopdev"], []Op{set(KindWorkload, "/other", "kind", "ClusterRole")}, nil, nil); err == nil {
		t.Fatal("an operator without the grant wrote a cluster-scoped template")
	}
	if _, _, err := r.Write(f.ops["root"], []Op{set(KindWorkload, "/Not_A_Name", "kind", "ClusterRole")}, nil, nil); err == nil {
		t.Fatal("an invalid cluster-scoped name was taken")
	}
	mustWrite(t, r, f.sites["eu-west"], set(KindCluster, "eu-west/c0", "region", "x"))
	if _, err := r.WriteSoft(f.sites["eu-west"], 1, KindStatus, "/widgets.example.com/eu-west/c0", []SoftField{{"ready", []byte("1")}}); err != nil {
		t.Fatalf("status of a cluster-scoped template: %v", err)
	}
	if obj, ok := r.Object(KindStatus, "/widgets.example.com/eu-west/c0"); !ok || string(obj["ready"].Bytes) != "1" {
		t.Fatalf("status %v", obj)
	}
}

func mustWriteCosigned(t *testing.T, r *Replica, f *fed, ops ...Op) {
	t.Helper()
	if _, _, err := r.Write(f.admins[0], ops, nil, nil, f.admins[1]); err != nil {
		t.Fatal(err)
	}
}

// TestFailoverFacts: a cluster's taintedAt and a status record's unhealthySince and
// evictedAt are level FormatFailover: a site writes them only under a charter of that
// level, and a change holding taintedAt is invalid below it.
func TestFailoverFacts(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	mustWrite(t, r, f.ops["root"], set(KindWorkload, "shop/web", "replicas", "2"))
	raiseFormat(t, f, r, FormatFailover-1)
	stamp := set(KindCluster, "eu-west/c0", TaintedAtPrefix+"maintenance", "2026-12-07T08:00:00Z")
	if _, _, err := r.Write(f.sites["eu-west"], []Op{set(KindCluster, "eu-west/c0", "taints/maintenance", ":NoExecute"), stamp}, nil, nil); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("needs format level %d", FormatFailover)) {
		t.Fatalf("taintedAt below level %d: %v, want refused naming the level", FormatFailover, err)
	}
	times := []SoftField{{"desired", []byte("2")}, {UnhealthySince, []byte("2026-12-07T08:00:00Z")}}
	if _, err := r.WriteSoft(f.sites["eu-west"], 1, KindStatus, "shop/web/eu-west/c0", times); err == nil || !strings.Contains(err.Error(), "needs format level") {
		t.Fatalf("unhealthySince below level %d: %v, want refused", FormatFailover, err)
	}
	raiseFormat(t, f, r, FormatFailover)
	mustWrite(t, r, f.sites["eu-west"], set(KindCluster, "eu-west/c0", "taints/maintenance", ":NoExecute"), stamp)
	times = append(times, SoftField{EvictedAt, []byte("2026-12-07T08:05:00Z")})
	if _, err := r.WriteSoft(f.sites["eu-west"], 2, KindStatus, "shop/web/eu-west/c0", times); err != nil {
		t.Fatal(err)
	}
	obj, _ := r.Object(KindStatus, "shop/web/eu-west/c0")
	if string(obj[EvictedAt].Bytes) != "2026-12-07T08:05:00Z" || string(obj[UnhealthySince].Bytes) == "" {
		t.Errorf("status %v, want both times shown", obj)
	}
	// Only the cluster's own site writes them.
	if _, _, err := r.Write(f.sites["eu-north"], []Op{set(KindCluster, "eu-west/c0", TaintedAtPrefix+"x", "2026-12-07T08:00:00Z")}, nil, nil); err == nil {
		t.Error("another site stamped eu-west's taint")
	}
}
