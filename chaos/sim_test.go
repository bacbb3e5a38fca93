package chaos

import (
	"os"
	"strconv"
	"testing"

	"atoll/crdt"
)

// TestSimulation runs a range of seeds; ATOLL_SEED=N replays one.
func TestSimulation(t *testing.T) {
	// Seed 183 voids a stable remove of an object whose fields a stable change had set:
	// the replica kept their values until it compacted that change, and restarted
	// without them (crdt noteStable, fieldBelow).
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 183}
	if v := os.Getenv("ATOLL_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{s}
	}
	amended, voided := 0, 0
	var soft SoftReport
	for _, seed := range seeds {
		rep, err := Run(Config{Sites: 7, Byzantine: 2, Seed: seed, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Converged {
			t.Fatalf("seed %d (replay: ATOLL_SEED=%d go test ./chaos -run TestSimulation): %s\n%v", seed, seed, rep.Failure, rep.Digests)
		}
		if rep.Writes == 0 || rep.Rejected == 0 {
			t.Fatalf("seed %d: a run without writes (%d) or rejections (%d) tests nothing", seed, rep.Writes, rep.Rejected)
		}
		if rep.Soft.Written == 0 || rep.Soft.Held == 0 || rep.Soft.Sessions == 0 {
			t.Fatalf("seed %d: soft state untested: %+v", seed, rep.Soft)
		}
		amended += rep.Amendments
		voided += rep.Void
		soft.Rejected += rep.Soft.Rejected
		soft.Buckets += rep.Soft.Buckets
		soft.Failed += rep.Soft.Failed
		t.Logf("seed %d: %d rounds, %d writes, %d changes, %d rejected, %d amendments, %d void, %.0f B/change; %s", seed, rep.Rounds, rep.Writes, rep.Changes, rep.Rejected, rep.Amendments, rep.Void, rep.BytesPerChange, rep.Soft)
	}
	if len(seeds) > 1 && (amended == 0 || voided == 0) {
		t.Fatalf("%d amendments and %d void changes over %d seeds: the revocation faults did not run", amended, voided, len(seeds))
	}
	if len(seeds) > 1 && (soft.Rejected == 0 || soft.Buckets == 0 || soft.Failed == 0) {
		t.Fatalf("over %d seeds %d soft records rejected, %d bucket comparisons, %d soft sessions failed: the soft attacks or faults did not run", len(seeds), soft.Rejected, soft.Buckets, soft.Failed)
	}
}

// TestReplay runs one seed twice: the same seed must give the same run.
func TestReplay(t *testing.T) {
	a, err := Run(Config{Sites: 5, Byzantine: 1, Seed: 42, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(Config{Sites: 5, Byzantine: 1, Seed: 42, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if a.Rounds != b.Rounds || a.Writes != b.Writes || a.NetworkBytes != b.NetworkBytes || a.Changes != b.Changes || a.Soft != b.Soft {
		t.Fatalf("seed 42 ran differently twice: %+v vs %+v", a, b)
	}
}

// TestSoftCheckerCatches: the soft-state checker notices a correct replica that holds a
// record the others do not, and one that holds a record signed by the wrong site.
func TestSoftCheckerCatches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(s *sim, n *node) error
	}{
		{"a record that never left its writer", func(s *sim, n *node) error {
			key := crdt.ClusterKey(n.name, "c0")
			_, err := n.rep.WriteSoft(n.signer, 1<<40, crdt.KindCluster, key, softFields(n, crdt.KindCluster, key, map[string]string{"health": "down"}))
			return err
		}},
		{"another site's object, restored unchecked", func(s *sim, n *node) error {
			other := s.correct()[1]
			return n.rep.RestoreSoft(s.signSoft(n.signer, 1<<40, crdt.KindCluster, crdt.ClusterKey(other.name, "c0"), "health", "down"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSim(Config{Sites: 5, Byzantine: 1, Seed: 11, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			s.chaos()
			s.heal()
			if _, ok := s.quiesce(); !ok {
				t.Fatal("seed 11 did not converge")
			}
			if err := s.checkSoft(); err != nil {
				t.Fatalf("before the fault: %v", err)
			}
			if err := tc.spoil(s, s.correct()[0]); err != nil {
				t.Fatal(err)
			}
			if err := s.checkSoft(); err == nil {
				t.Fatal("the checker did not notice")
			} else {
				t.Log(err)
			}
		})
	}
}
