package chaos

import (
	"os"
	"strconv"
	"testing"
)

// TestSimulation runs a range of seeds; ATOLL_SEED=N replays one.
func TestSimulation(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if v := os.Getenv("ATOLL_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{s}
	}
	amended, voided := 0, 0
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
		amended += rep.Amendments
		voided += rep.Void
		t.Logf("seed %d: %d rounds, %d writes, %d changes, %d rejected, %d amendments, %d void, %.0f B/change", seed, rep.Rounds, rep.Writes, rep.Changes, rep.Rejected, rep.Amendments, rep.Void, rep.BytesPerChange)
	}
	if len(seeds) > 1 && (amended == 0 || voided == 0) {
		t.Fatalf("%d amendments and %d void changes over %d seeds: the revocation faults did not run", amended, voided, len(seeds))
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
	if a.Rounds != b.Rounds || a.Writes != b.Writes || a.NetworkBytes != b.NetworkBytes || a.Changes != b.Changes {
		t.Fatalf("seed 42 ran differently twice: %+v vs %+v", a, b)
	}
}
