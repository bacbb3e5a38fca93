package crdt

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// softRecord signs a record by signer (who need not be its writer: attacks sign others').
func softRecord(t testing.TB, f *fed, signer *Signer, seq uint64, kind Kind, key string, kv ...string) []byte {
	t.Helper()
	rec := &SoftRecord{Kind: kind, Key: key, Seq: seq}
	for i := 0; i+1 < len(kv); i += 2 {
		rec.Fields = append(rec.Fields, SoftField{kv[i], []byte(kv[i+1])})
	}
	raw, err := SignSoft(f.genesis.ID, rec, signer)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mustSoft(t testing.TB, r *Replica, raw []byte) SoftResult {
	t.Helper()
	res, err := r.ReceiveSoft(raw)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSoftRecordEncoding(t *testing.T) {
	f := newFed(t)
	raw := softRecord(t, f, f.sites["eu-west"], 7, KindStatus, "shop/web/eu-west/c0", "ready", "3", "desired", "3", "conditions", "Available=True")
	rec, err := DecodeSoft(raw)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 7 || rec.Writer() != "eu-west" || len(rec.Fields) != 3 || rec.Fields[0].Name != "conditions" {
		t.Fatalf("decoded %+v", rec)
	}
	if !VerifySoft(f.genesis.ID, rec, f.sites["eu-west"].Public()) {
		t.Fatal("signature does not verify")
	}
	var other Hash
	other[0] = 1
	if VerifySoft(other, rec, f.sites["eu-west"].Public()) {
		t.Fatal("a record of one federation verifies in another")
	}
	t.Logf("a status record of 3 fields: %d bytes", len(raw))
	for _, bad := range []struct {
		name string
		raw  []byte
	}{
		{"truncated", raw[:len(raw)-1]},
		{"trailing", append(append([]byte{}, raw...), 0)},
		{"empty", nil},
		{"version", append([]byte{9}, raw[1:]...)},
	} {
		if _, err := DecodeSoft(bad.raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", bad.name, err)
		}
	}
	for _, rec := range []*SoftRecord{
		{Kind: KindWorkload, Key: "shop/web", Fields: []SoftField{{"replicas", []byte("1")}}},
		{Kind: KindCluster, Key: "eu-west/c0", Fields: []SoftField{{"labels/x", []byte("1")}}},
		{Kind: KindStatus, Key: "shop/web/eu-west", Fields: []SoftField{{"ready", []byte("1")}}},
		{Kind: KindStatus, Key: "shop/web/eu-west/c0", Fields: []SoftField{{"message", make([]byte, MaxSoftStatusBytes)}}},
	} {
		if _, err := SignSoft(f.genesis.ID, rec, f.sites["eu-west"]); err == nil {
			t.Errorf("signed an invalid record %s %q", rec.Kind, rec.Key)
		}
	}
}

// TestSoftForgedAndOthers: a site cannot write another site's soft fields, an operator
// none, and a signature over other bytes fails.
func TestSoftForgedAndOthers(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"another site's cluster", softRecord(t, f, f.sites["us-east"], 1, KindCluster, "eu-west/c0", "health", "unhealthy"), ErrSoftSig},
		{"an operator", softRecord(t, f, f.ops["root"], 1, KindCluster, "eu-west/c0", "health", "unhealthy"), ErrSoftSig},
		{"a site not in the charter", softRecord(t, f, key("site rogue"), 1, KindCluster, "rogue/c0", "health", "healthy"), ErrSoftWriter},
	}
	good := softRecord(t, f, f.sites["eu-west"], 1, KindCluster, "eu-west/c0", "health", "healthy")
	flipped := append([]byte{}, good...)
	flipped[len(flipped)-1] ^= 1
	cases = append(cases, struct {
		name string
		raw  []byte
		want error
	}{"a flipped signature bit", flipped, ErrSoftSig})
	for _, c := range cases {
		if _, err := r.ReceiveSoft(c.raw); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if held, _ := r.SoftLen(); held != 0 {
		t.Fatalf("%d records held after forgeries", held)
	}
}

// TestSoftLatestWins: a higher Seq replaces, a replayed older record does nothing, equal
// Seqs (an equivocating writer) resolve alike whatever the order.
func TestSoftLatestWins(t *testing.T) {
	f := newFed(t)
	eu := f.sites["eu-west"]
	a := softRecord(t, f, eu, 5, KindCluster, "eu-west/c0", "health", "healthy")
	b := softRecord(t, f, eu, 6, KindCluster, "eu-west/c0", "health", "unhealthy", "reason", "apiserver down")
	x := softRecord(t, f, eu, 7, KindCluster, "eu-west/c0", "health", "x")
	y := softRecord(t, f, eu, 7, KindCluster, "eu-west/c0", "health", "y")
	r1, r2 := f.replica(t, ""), f.replica(t, "")
	for _, raw := range [][]byte{a, b, a, x, y} {
		mustSoft(t, r1, raw)
	}
	for _, raw := range [][]byte{y, b, x, a} {
		mustSoft(t, r2, raw)
	}
	v1, _ := r1.Get(KindCluster, "eu-west/c0", "health")
	v2, _ := r2.Get(KindCluster, "eu-west/c0", "health")
	if string(v1.Bytes) != string(v2.Bytes) || v1.Soft != 7 || r1.SoftDigest() != r2.SoftDigest() {
		t.Fatalf("equivocation resolved differently: %q (seq %d) vs %q", v1.Bytes, v1.Soft, v2.Bytes)
	}
	if _, ok := r1.Get(KindCluster, "eu-west/c0", "reason"); ok {
		t.Fatal("a field of an older record survived the newer record that left it out")
	}
	if res := mustSoft(t, r1, b); !res.Stale {
		t.Fatalf("a replayed older record: %+v", res)
	}
}

// TestSoftOverridesDAG: a soft record replaces the soft fields an earlier release wrote
// in the DAG and leaves the others.
func TestSoftOverridesDAG(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	eu := f.sites["eu-west"]
	mustWrite(t, r, eu, set(KindCluster, "eu-west/c0", "health", "healthy"), set(KindCluster, "eu-west/c0", "region", "eu-west-1"),
		set(KindCluster, "eu-west/c0", "available/cpu", "4"))
	if _, err := r.WriteSoft(eu, 1, KindCluster, "eu-west/c0", []SoftField{{"health", []byte("unhealthy")}}); err != nil {
		t.Fatal(err)
	}
	obj, ok := r.Object(KindCluster, "eu-west/c0")
	if !ok || string(obj["health"].Bytes) != "unhealthy" || string(obj["region"].Bytes) != "eu-west-1" {
		t.Fatalf("object %v", obj)
	}
	if _, ok := obj["available/cpu"]; ok {
		t.Fatal("a soft field written in the DAG shows through the soft record")
	}
	if keys := r.Keys(KindCluster, ""); len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	if _, err := r.WriteSoft(f.sites["us-east"], 2, KindCluster, "eu-west/c0", nil); !errors.Is(err, ErrSoftWriter) {
		t.Fatalf("writing another site's record: %v", err)
	}
}

// TestSoftFollowsWorkloads: a status record waits for its workload and cluster, and goes
// back to the orphans with the workload (kept in the data file, to come back with it).
func TestSoftFollowsWorkloads(t *testing.T) {
	f := newFed(t)
	op := f.replica(t, "")
	r := f.replica(t, "")
	st := softRecord(t, f, f.sites["eu-west"], 3, KindStatus, "shop/web/eu-west/c0", "ready", "2")
	if res := mustSoft(t, r, st); !res.Orphaned {
		t.Fatalf("status before its workload: %+v", res)
	}
	w := mustWrite(t, op, f.ops["shopdev"], set(KindWorkload, "shop/web", "replicas", "2"))
	r.ReceiveEnvelope(w)
	if _, ok := r.Object(KindStatus, "shop/web/eu-west/c0"); ok {
		t.Fatal("status held before its cluster is known")
	}
	mustSoft(t, r, softRecord(t, f, f.sites["eu-west"], 4, KindCluster, "eu-west/c0", "health", "healthy"))
	if v, ok := r.Get(KindStatus, "shop/web/eu-west/c0", "ready"); !ok || string(v.Bytes) != "2" {
		t.Fatalf("the orphan was not adopted: %v %v", v, ok)
	}
	if ch := r.TakeSoft(); len(ch) != 2 {
		t.Fatalf("changes to persist: %+v", ch)
	}
	rm := mustWrite(t, op, f.ops["shopdev"], Op{Type: OpRemove, Kind: KindWorkload, Key: "shop/web"})
	r.ReceiveEnvelope(rm)
	if _, ok := r.Object(KindStatus, "shop/web/eu-west/c0"); ok {
		t.Fatal("status of a removed workload still held")
	}
	if held, orphans := r.SoftLen(); held != 1 || orphans != 1 {
		t.Fatalf("after the remove: %d held, %d orphans", held, orphans)
	}
	if ch := r.TakeSoft(); len(ch) != 1 || string(ch[0].Raw) != string(st) || ch[0].Key != "shop/web/eu-west/c0" {
		t.Fatalf("changes to persist after the remove: %+v", ch)
	}
}

// softBucketed counts the writers compared by bucket in every session softSync ran.
var softBucketed int

// softSync runs a soft session between a and b and returns its bytes and records held.
func softSync(t testing.TB, a, b *Replica) (int, int) {
	t.Helper()
	ia, first := a.InitiateSoft()
	rb := b.RespondSoft()
	runSoft(t, ia, rb, first)
	softBucketed += ia.Buckets + rb.Buckets
	return ia.BytesOut + rb.BytesOut, ia.Held + rb.Held
}

// runSoft steps a soft session to its end, initiator ia and responder rb.
func runSoft(t testing.TB, ia, rb *SoftSession, first []byte) {
	t.Helper()
	inbox := [][]byte{first}
	toB := true
	for rounds := 0; len(inbox) > 0; rounds++ {
		if rounds > 100 {
			t.Fatal("soft session does not end")
		}
		var next [][]byte
		for _, fr := range inbox {
			var out [][]byte
			var err error
			if toB {
				out, err = rb.Step(fr)
			} else {
				out, err = ia.Step(fr)
			}
			if err != nil {
				t.Fatal(err)
			}
			next = append(next, out...)
		}
		inbox, toB = next, !toB
	}
	if !ia.Done() || !rb.Done() {
		t.Fatalf("session not done: initiator %v responder %v", ia.Done(), rb.Done())
	}
}

// TestSoftSessionProperty: replicas that received random subsets of records, including
// equivocations, replays and forgeries, agree after sessions, on the record an oracle
// picks for each object (highest Seq, then highest id).
func TestSoftSessionProperty(t *testing.T) {
	softBucketed = 0
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { softProperty(t, seed) })
	}
	if softBucketed == 0 {
		t.Fatal("no session compared buckets: the equivocation path is untested")
	}
	t.Logf("%d writers compared by bucket over 40 seeds", softBucketed)
}

func softProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	f := newFed(t)
	op := f.replica(t, "")
	var dag []*Envelope
	for i := range 6 {
		dag = append(dag, mustWrite(t, op, f.ops["root"], set(KindWorkload, fmt.Sprintf("ns/w%d", i), "replicas", "1")))
	}
	names := []string{"eu-west", "eu-north", "us-east"}
	type want struct {
		seq uint64
		id  Hash
	}
	oracle := map[objKey]want{}
	var all [][]byte
	for range 120 {
		w := names[rng.IntN(len(names))]
		var kind Kind
		var key string
		if rng.IntN(4) == 0 {
			kind, key = KindCluster, fmt.Sprintf("%s/c%d", w, rng.IntN(2))
		} else {
			kind, key = KindStatus, fmt.Sprintf("ns/w%d/%s/c%d", rng.IntN(6), w, rng.IntN(2))
		}
		seq := uint64(rng.IntN(30)) // small: many equal Seqs, as an equivocating writer makes
		field := map[Kind]string{KindCluster: "health", KindStatus: "ready"}[kind]
		raw := softRecord(t, f, f.sites[w], seq, kind, key, field, fmt.Sprint(rng.IntN(1000)))
		all = append(all, raw)
		k, id := objKey{kind, key}, SoftID(raw)
		if o, ok := oracle[k]; !ok || seq > o.seq || seq == o.seq && compareHash(&o.id, &id) < 0 {
			oracle[k] = want{seq, id}
		}
		if rng.IntN(8) == 0 { // a forgery by another site
			forger := names[(indexOf(names, w)+1)%len(names)]
			all = append(all, softRecord(t, f, f.sites[forger], seq+100, kind, key, field, "666"))
		}
	}
	// every cluster a status names must be known for the status to be held
	for _, w := range names {
		for c := range 2 {
			raw := softRecord(t, f, f.sites[w], 0, KindCluster, fmt.Sprintf("%s/c%d", w, c))
			all = append(all, raw)
			k, id := objKey{KindCluster, fmt.Sprintf("%s/c%d", w, c)}, SoftID(raw)
			if o, ok := oracle[k]; !ok || o.seq == 0 && compareHash(&o.id, &id) < 0 {
				oracle[k] = want{0, id}
			}
		}
	}
	reps := make([]*Replica, 4)
	for i := range reps {
		reps[i] = f.replica(t, "")
		for _, e := range dag {
			reps[i].ReceiveEnvelope(e)
		}
	}
	for _, raw := range all { // each record reaches one replica, and maybe more
		first := rng.IntN(len(reps))
		for i, r := range reps {
			if i == first || rng.IntN(3) == 0 {
				_, _ = r.ReceiveSoft(raw)
			}
		}
	}
	// a ring of sessions, twice, then every replica must hold the oracle's records
	for range 2 {
		for i := range reps {
			softSync(t, reps[i], reps[(i+1)%len(reps)])
		}
	}
	for i, r := range reps {
		held, orphans := r.SoftLen()
		if held != len(oracle) {
			for k, o := range oracle {
				if _, ok := r.soft.recs[k]; !ok {
					t.Logf("replica %d lacks %s %q seq %d; vector %v", i, k.kind, k.key, o.seq, r.SoftVector())
					for j, r2 := range reps {
						t.Logf("  replica %d vector %v", j, r2.SoftVector())
					}
				}
			}
			t.Fatalf("%s: replica %d holds %d records (+%d orphans), oracle %d", t.Name(), i, held, orphans, len(oracle))
		}
		for k, o := range oracle {
			sr, ok := r.soft.recs[k]
			if !ok || sr.seq != o.seq || SoftID(sr.raw) != o.id {
				t.Fatalf("replica %d: %s %q: holds %v, oracle seq %d", i, k.kind, k.key, sr, o.seq)
			}
		}
		if r.SoftDigest() != reps[0].SoftDigest() {
			t.Fatalf("replica %d digest differs", i)
		}
	}
	if n, _ := softSync(t, reps[0], reps[1]); n > 2+3*(1+len("eu-north")+5+32) {
		t.Errorf("two replicas in sync exchanged %d bytes", n)
	}
}

func indexOf(names []string, w string) int {
	for i, n := range names {
		if n == w {
			return i
		}
	}
	return -1
}

// TestSoftSessionSendsOnlyNewer: a replica 10 records behind on one writer of 2,000
// receives those 10, not the writer's records.
func TestSoftSessionSendsOnlyNewer(t *testing.T) {
	f := newFed(t)
	op := f.replica(t, "")
	var dag []*Envelope
	for i := range 100 {
		dag = append(dag, mustWrite(t, op, f.ops["root"], set(KindWorkload, fmt.Sprintf("ns/w%d", i), "replicas", "1")))
	}
	a, b := f.replica(t, ""), f.replica(t, "")
	eu := f.sites["eu-west"]
	for _, r := range []*Replica{a, b} {
		for _, e := range dag {
			r.ReceiveEnvelope(e)
		}
	}
	var recs [][]byte
	seq := uint64(1000)
	for c := range 20 {
		recs = append(recs, softRecord(t, f, eu, seq, KindCluster, fmt.Sprintf("eu-west/c%d", c), "health", "healthy"))
		seq++
	}
	for round := range 20 {
		for w := range 100 {
			recs = append(recs, softRecord(t, f, eu, seq, KindStatus, fmt.Sprintf("ns/w%d/eu-west/c%d", w, round%20), "ready", fmt.Sprint(round)))
			seq++
		}
	}
	for i, raw := range recs {
		mustSoft(t, a, raw)
		if i < len(recs)-10 {
			mustSoft(t, b, raw)
		}
	}
	n, held := softSync(t, b, a)
	if held != 10 || n > 10*200+1000 {
		t.Fatalf("catching up 10 records took %d bytes and held %d", n, held)
	}
	if a.SoftDigest() != b.SoftDigest() {
		t.Fatal("not in sync")
	}
}

// TestSoftSessionDuringChurn: records keep arriving at both sides while a session runs
// (pushed by their writer): the session must not send the writer's other records.
func TestSoftSessionDuringChurn(t *testing.T) {
	f := newFed(t)
	op := f.replica(t, "")
	var dag []*Envelope
	for i := range 10 {
		ops := []Op{}
		for w := range 100 {
			ops = append(ops, set(KindWorkload, fmt.Sprintf("ns/w%d", i*100+w), "replicas", "1"))
		}
		dag = append(dag, mustWrite(t, op, f.ops["root"], ops...))
	}
	a, b := f.replica(t, ""), f.replica(t, "")
	eu := f.sites["eu-west"]
	for _, r := range []*Replica{a, b} {
		for _, e := range dag {
			r.ReceiveEnvelope(e)
		}
		mustSoft(t, r, softRecord(t, f, eu, 1, KindCluster, "eu-west/c0", "health", "healthy"))
	}
	seq := uint64(10)
	next := func() []byte {
		seq++
		return softRecord(t, f, eu, seq, KindStatus, fmt.Sprintf("ns/w%d/eu-west/c0", seq%1000), "ready", fmt.Sprint(seq))
	}
	for range 2000 {
		raw := next()
		mustSoft(t, a, raw)
		mustSoft(t, b, raw)
	}
	// a session in which, before every step, a new record reaches one side (the push to
	// the other is on its way)
	ia, first := a.InitiateSoft()
	rb := b.RespondSoft()
	inbox, toB, bytes := [][]byte{first}, true, 0
	for len(inbox) > 0 {
		var out [][]byte
		for _, fr := range inbox {
			bytes += len(fr)
			raw := next()
			if toB {
				mustSoft(t, b, raw)
			} else {
				mustSoft(t, a, raw)
			}
			var o [][]byte
			var err error
			if toB {
				o, err = rb.Step(fr)
			} else {
				o, err = ia.Step(fr)
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o...)
		}
		inbox, toB = out, !toB
	}
	t.Logf("session during churn: %d bytes, %d records received, %d writers compared by bucket", bytes, ia.Received+rb.Received, ia.Buckets+rb.Buckets)
	if ia.Received+rb.Received > 250 {
		t.Fatalf("a session during churn moved %d records: in flight, not the writer's 1,000 objects", ia.Received+rb.Received)
	}
}

// TestSoftNoBuckets: a side that does not allow the bucket comparison does no pass over
// the records, whatever digests the other claims, and the session still ends.
func TestSoftNoBuckets(t *testing.T) {
	f := newFed(t)
	a, b := f.replica(t, ""), f.replica(t, "")
	eu := f.sites["eu-west"]
	x := softRecord(t, f, eu, 7, KindCluster, "eu-west/c0", "health", "x")
	y := softRecord(t, f, eu, 7, KindCluster, "eu-west/c0", "health", "y")
	mustSoft(t, a, x)
	mustSoft(t, b, y) // equivocation: only buckets tell them apart
	for _, noBuckets := range []bool{true, false} {
		ia, first := a.InitiateSoft()
		rb := b.RespondSoft()
		ia.NoBuckets, rb.NoBuckets = noBuckets, noBuckets
		runSoft(t, ia, rb, first)
		if noBuckets && (ia.Compared() || rb.Compared() || a.SoftDigest() == b.SoftDigest()) {
			t.Fatalf("buckets compared although not allowed")
		}
		if !noBuckets && a.SoftDigest() != b.SoftDigest() {
			t.Fatalf("equivocation not resolved with buckets allowed")
		}
	}
}

// TestSoftHeldRecordsAreOwned: a replica holds a copy of every record, never a slice of
// the frame or buffer it came in. The caller reuses its buffers (here the frames are
// overwritten after each step) and a session frame carries many records: holding slices
// of it would keep the whole frame alive for as long as one of its records is held, and
// hand on whatever the buffer holds next.
func TestSoftHeldRecordsAreOwned(t *testing.T) {
	f := newFed(t)
	op := f.replica(t, "")
	w := mustWrite(t, op, f.ops["root"], set(KindWorkload, "ns/w", "replicas", "1"))
	a, b, c := f.replica(t, ""), f.replica(t, ""), f.replica(t, "")
	for _, r := range []*Replica{a, b, c} {
		r.ReceiveEnvelope(w)
	}
	eu := f.sites["eu-west"]
	for i := range 50 {
		mustSoft(t, a, softRecord(t, f, eu, uint64(100+i), KindCluster, fmt.Sprintf("eu-west/c%d", i), "health", "healthy"))
	}
	ia, first := b.InitiateSoft()
	ra := a.RespondSoft()
	inbox, toA := [][]byte{first}, true
	for len(inbox) > 0 {
		var next [][]byte
		for _, fr := range inbox {
			step := ia.Step
			if toA {
				step = ra.Step
			}
			out, err := step(fr)
			if err != nil {
				t.Fatal(err)
			}
			clear(fr) // the caller's buffer, reused
			next = append(next, out...)
		}
		inbox, toA = next, !toA
	}
	if held, _ := b.SoftLen(); held != 50 {
		t.Fatalf("b holds %d records, want 50", held)
	}
	softSync(t, c, b)
	if c.SoftDigest() != a.SoftDigest() {
		held, _ := c.SoftLen()
		t.Fatalf("c holds %d records from b, not a's: b held slices of buffers its caller reused", held)
	}
}

// TestEachStatusMatchesKeys: EachStatus visits the status objects Keys lists, each once,
// with the fields Get returns: soft records, a record of no fields (not visible), a
// status written in the DAG by an earlier release, and one a soft record overrides.
func TestEachStatusMatchesKeys(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	eu := f.sites["eu-west"]
	mustWrite(t, r, f.ops["root"], set(KindWorkload, "shop/a", "replicas", "1"), set(KindWorkload, "shop/b", "replicas", "1"),
		set(KindWorkload, "shop/c", "replicas", "1"))
	mustWrite(t, r, eu, set(KindCluster, "eu-west/c0", "health", "healthy"),
		set(KindStatus, "shop/a/eu-west/c0", "ready", "7"), set(KindStatus, "shop/a/eu-west/c0", "message", "old"),
		set(KindStatus, "shop/b/eu-west/c0", "ready", "4"))
	for i, w := range []string{"b", "c"} {
		if _, err := r.WriteSoft(eu, uint64(i+1), KindStatus, "shop/"+w+"/eu-west/c0", []SoftField{{"ready", []byte("2")}, {"desired", []byte(w)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.WriteSoft(eu, 3, KindStatus, "shop/c/eu-west/c0", nil); err != nil { // withdrawn
		t.Fatal(err)
	}
	fields := []string{"ready", "desired", "message", "conditions"}
	got := map[string][]string{}
	r.EachStatus(func(key string, fs StatusFields) {
		if _, dup := got[key]; dup {
			t.Errorf("%s visited twice", key)
		}
		for _, name := range fields {
			got[key] = append(got[key], string(fs.Get(name)))
		}
	})
	want := map[string][]string{}
	for _, key := range r.Keys(KindStatus, "") {
		for _, name := range fields {
			v, _ := r.Get(KindStatus, key, name)
			want[key] = append(want[key], string(v.Bytes))
		}
	}
	if len(want) != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("EachStatus %v, Keys and Get %v", got, want)
	}
	if g := got["shop/a/eu-west/c0"]; g[0] != "7" || g[2] != "old" {
		t.Fatalf("status in the DAG: %v", g)
	}
	if g := got["shop/b/eu-west/c0"]; g[0] != "2" || g[1] != "b" || g[2] != "" {
		t.Fatalf("status a soft record overrides: %v", g)
	}
}
