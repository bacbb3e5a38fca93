package main

import (
	"fmt"
	"math/rand/v2"
)

// The federation's sites; records are spread evenly over them and each record is written
// only by its owning site (Atoll enforces this; automerge has no notion of it).
var sites = []struct{ name, region, jur string }{
	{"eu-west", "eu-west-1", "EU"},
	{"eu-north", "eu-north-1", "EU"},
	{"us-east", "us-east-1", "US"},
	{"ap-south", "ap-south-1", "IN"},
}

const clustersPerSite = 10

// fields are the status fields every record has; initial values are below 1,000 and every
// later write uses a fresh value, because automerge drops a put of the value already there
// (the commit is then empty) while Atoll would still record it.
var fields = [...]string{"ready", "available", "desired"}

var initial = [len(fields)]int64{0, 0, 3}

// record is one status object: "shop/w<N>/<site>/c<N>".
type record struct {
	key  string
	site int // index into sites
}

// update sets one field of one record.
type update struct {
	rec   int
	field int
	value int64
}

// workload is the one sequence of writes both engines replay.
type workload struct {
	records []record
	updates []update
	// edits[rep][side] are the concurrent edits of the two forks in merge repetition rep.
	edits [][2][]update
}

func newWorkload(nRecords, nUpdates, editsPerSide, reps int, seed uint64) *workload {
	rng := rand.New(rand.NewPCG(seed, 0x61746f6c6c))
	w := &workload{records: make([]record, nRecords), updates: make([]update, nUpdates)}
	perWorkload := len(sites) * clustersPerSite
	for i := range w.records {
		s := (i / clustersPerSite) % len(sites)
		w.records[i] = record{
			key:  fmt.Sprintf("shop/w%d/%s/c%d", i/perWorkload, sites[s].name, i%clustersPerSite),
			site: s,
		}
	}
	for u := range w.updates {
		w.updates[u] = update{rec: rng.IntN(nRecords), field: rng.IntN(len(fields)), value: 1000 + int64(u)}
	}
	w.edits = make([][2][]update, reps)
	for r := range w.edits {
		for side := range 2 {
			e := make([]update, editsPerSide)
			for k := range e {
				e[k] = update{
					rec:   rng.IntN(nRecords),
					field: rng.IntN(len(fields)),
					value: int64(side+1)*100_000_000 + int64(r)*1_000_000 + int64(k),
				}
			}
			w.edits[r][side] = e
		}
	}
	return w
}
