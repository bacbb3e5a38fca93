package site

import (
	"hash/maphash"
	"maps"
	"slices"

	"atoll/scheduler"
)

// Versions for the Replanner (scheduler.Workload.Version). Each pass builds every
// workload afresh from the replica; a passCache gives a workload the version it had in
// its previous pass when nothing the scheduler reads of it changed, and a new one
// otherwise, so that the Replanner does not read its status and policy again to find
// out. The status, some 40 entries a workload, is not compared entry by entry: its
// digest is taken while workloadsLocked reads it, when each entry is at hand; the rest
// is compared as it is.

// statusSeed keys the digests of status: random per process, so that no site can
// craft reports whose digests collide.
var statusSeed = maphash.MakeSeed()

// observed is what the sites report of one workload, and its digest: 1 plus the sum of
// each entry's hash, whatever the order. Equal reports give equal digests; different
// ones, the same with probability 2^-64 (as the Replanner's own fingerprints).
type observed struct {
	m      map[string]scheduler.Observed
	digest uint64
}

func newObserved() *observed { return &observed{m: map[string]scheduler.Observed{}, digest: 1} }

// add records the report of the cluster at ("<site>/<cluster>"), once per cluster.
// Instants count as the scheduler reads them, without their location.
func (o *observed) add(at string, r scheduler.Observed) {
	o.m[at] = r
	h := maphash.String(statusSeed, at)
	for _, x := range [...]int64{int64(r.Desired), int64(r.Ready), r.UnhealthySince.Unix(), int64(r.UnhealthySince.Nanosecond()),
		r.EvictedAt.Unix(), int64(r.EvictedAt.Nanosecond())} {
		h = mix(h ^ uint64(x))
	}
	o.digest += h
}

// reports returns the reports and their digest; none (nil) has the digest of none.
func (o *observed) reports() (map[string]scheduler.Observed, uint64) {
	if o == nil {
		return nil, 1
	}
	return o.m, o.digest
}

// mix is splitmix64's finalizer: a bijection that spreads every bit of x over the result.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// version is a workload's version in a passCache, with what it stands for: the
// scheduler's inputs as they were when it was given, the status by its digest.
type version struct {
	n        uint64
	digest   uint64
	replicas int
	bound    []string
	request  scheduler.Resources
	policy   scheduler.Policy
}

// versionOf returns the workload's version in this pass: the one of the previous pass
// if nothing the scheduler reads of it changed since, else a new one, this pass's
// number. A workload without a digest of its status (not read by workloadsLocked) is
// new every pass.
func (c *passCache) versionOf(w *workload) version {
	s := &w.sched
	v, ok := c.versions[s.Key]
	if ok && w.digest != 0 && v.digest == w.digest && v.replicas == s.Replicas && slices.Equal(v.bound, s.Bound) &&
		maps.Equal(v.request, s.Request) && v.policy.Equal(&s.Policy) {
		return v
	}
	return version{n: c.passes, digest: w.digest, replicas: s.Replicas, bound: s.Bound, request: s.Request, policy: s.Policy}
}
