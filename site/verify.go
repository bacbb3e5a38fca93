package site

import (
	"context"
	"runtime"
	"sync"

	"atoll/crdt"
)

// Signatures on every core. A burst of changes from a peer (a push batch, a sync
// session's message) would otherwise be verified one after another under the site's
// lock. The verifier checks them first on a pool of one worker per core, outside the
// lock, and remembers the ids that checked out; the replica then skips those
// (crdt.Config.Verified) and verifies everything else itself. A change id hashes the
// whole header, signatures included, so a remembered id vouches only for those bytes.

// maxVerified bounds the ids remembered. Any peer can sign changes with a key of its
// own, so the set fills with whatever arrives; an id that falls out is verified again.
const maxVerified = 1 << 14

// verifiedSet is a bounded set of change ids whose signatures checked out: the oldest
// id goes when it is full. It implements crdt.VerifiedSet for the site's replica.
type verifiedSet struct {
	mu   sync.Mutex
	ids  map[crdt.Hash]struct{}
	ring []crdt.Hash // insertion order, len ≤ cap
	next int         // the ring slot the next id takes once full
	cap  int
}

func newVerifiedSet(capacity int) *verifiedSet {
	return &verifiedSet{ids: make(map[crdt.Hash]struct{}, capacity), cap: capacity}
}

func (v *verifiedSet) Has(id crdt.Hash) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.ids[id]
	return ok
}

func (v *verifiedSet) Add(id crdt.Hash) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.ids[id]; ok {
		return
	}
	if len(v.ring) < v.cap {
		v.ring = append(v.ring, id)
	} else {
		delete(v.ids, v.ring[v.next])
		v.ring[v.next] = id
		v.next = (v.next + 1) % v.cap
	}
	v.ids[id] = struct{}{}
}

func (v *verifiedSet) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.ids)
}

// verifier is the pool: run starts its workers, check hands them a burst.
type verifier struct {
	set  *verifiedSet
	jobs chan verifyJob // nil until run
}

type verifyJob struct {
	raw  []byte
	done *sync.WaitGroup
}

func newVerifier() *verifier { return &verifier{set: newVerifiedSet(maxVerified)} }

// run starts one worker per core; they stop when ctx is done. Call it once, before
// check is called from other goroutines.
func (v *verifier) run(ctx context.Context, wg *sync.WaitGroup) {
	v.jobs = make(chan verifyJob)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-v.jobs:
					if id, err := crdt.CheckSignatures(j.raw); err == nil {
						v.set.Add(id)
					}
					j.done.Done()
				}
			}
		}()
	}
}

// check verifies the changes of a burst on the pool and returns once every one is
// checked (or ctx is done). A burst of one is left to the replica: nothing to share.
// Changes that fail are not remembered; the replica verifies them again and refuses
// them with the reason, as it would have.
func (v *verifier) check(ctx context.Context, raws [][]byte) {
	if v.jobs == nil || len(raws) < 2 {
		return
	}
	var done sync.WaitGroup
	for _, raw := range raws {
		done.Add(1)
		select {
		case v.jobs <- verifyJob{raw, &done}:
		case <-ctx.Done():
			done.Done()
			return // the workers may still hold jobs of this burst; nobody waits for them
		}
	}
	done.Wait()
}
