package e2e

import (
	"os"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
	"atoll/site/store"
)

// TestFollowerForwardsStranded stops site 0's leader, plants in its data file a change
// signed by the site and marked as not yet in the Raft log (what a leader holds when it
// stops between storing its own write and the log committing it), and restarts it: it comes
// back as a follower, and the change must still reach the other replicas and the other site.
func TestFollowerForwardsStranded(t *testing.T) {
	f := start(t, Options{Sites: 2, Replicas: 3})
	ctx := deadline(t, 2*time.Minute)
	lead := leaderOf0(t, ctx, f)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.StopSite(lead); err != nil {
		t.Fatal(err)
	}
	next := leaderOf0(t, ctx, f)
	if _, err := f.Write(ctx, next, "after", "stop"); err != nil {
		t.Fatal(err)
	}

	c, err := site.ReadConfig(f.Config(lead))
	if err != nil {
		t.Fatal(err)
	}
	key, err := site.LoadKeyFile(c.Path(c.Identity))
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := os.ReadFile(c.Path(c.Genesis))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis})
	if err != nil {
		t.Fatal(err)
	}
	env, err := crdt.Sign(rep.Prepare([]crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: f.Names[0] + "/c0", Field: "labels/stranded", Value: []byte("yes")}}, nil), nil, key)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := site.DataKey(key, rep.Genesis())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(c.DataFile(), store.Options{Key: dk})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkUnreplicated([][32]byte{env.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Save([]store.Record{{ID: env.ID, Data: env.Encode()}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	if err := f.StartSite(ctx, lead); err != nil {
		t.Fatal(err)
	}
	if st, err := f.Client(lead).State(ctx); err != nil || st.Role != "follower" {
		t.Fatalf("restarted replica: role %q (%v), want follower", st.Role, err)
	}
	id := env.ID.Hex()
	if ok, err := f.Client(lead).Has(ctx, id, 0); err != nil || !ok {
		t.Fatalf("the restarted replica does not hold the planted change: %v (%v)", ok, err)
	}
	for i := range f.Names {
		if ok, err := f.Client(i).Has(ctx, id, 30*time.Second); err != nil || !ok {
			t.Fatalf("%s never received the change the stopped leader stored: %v (%v)", f.Names[i], ok, err)
		}
	}
	checkConverged(t, f, time.Minute)
}
