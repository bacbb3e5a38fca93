package scheduler

import (
	"encoding/binary"
	"hash/maphash"
)

// fingerprinter hashes what a workload's placement depends on of the workload itself:
// its replicas, bound, policy, request and status. Equal inputs hash equal under one
// seed; different inputs collide with probability 2^-64. Maps are hashed whatever their
// order. Every field of Policy is hashed (TestFingerprintCoversWorkload fails on a field
// that is not).
type fingerprinter struct {
	seed maphash.Seed
	b    []byte // what is hashed, appended
	e    []byte // one map entry
}

func newFingerprinter() *fingerprinter { return &fingerprinter{seed: maphash.MakeSeed()} }

func (f *fingerprinter) of(w *Workload) uint64 {
	f.b = f.b[:0]
	f.int(int64(w.Replicas))
	f.strs(w.Bound)
	f.policy(&w.Policy)
	// Maps: the sum of their entries' hashes, whatever the order.
	var sum uint64
	for k, n := range w.Request {
		f.e = binary.LittleEndian.AppendUint64(append(f.e[:0], k...), uint64(n))
		sum += maphash.Bytes(f.seed, f.e)
	}
	f.int(int64(sum))
	f.int(int64(len(w.Request)))
	sum = 0
	for k, o := range w.Status {
		// The key's hash, then each field mixed in; instants as the scheduler reads
		// them, without their location.
		h := maphash.String(f.seed, k)
		h = mix(h ^ uint64(o.Desired))
		h = mix(h ^ uint64(o.Ready))
		if !o.UnhealthySince.IsZero() || !o.EvictedAt.IsZero() {
			h = mix(h ^ uint64(o.UnhealthySince.Unix()))
			h = mix(h ^ uint64(o.UnhealthySince.Nanosecond()))
			h = mix(h ^ uint64(o.EvictedAt.Unix()))
			h = mix(h ^ uint64(o.EvictedAt.Nanosecond()))
		}
		sum += h
	}
	f.int(int64(sum))
	f.int(int64(len(w.Status)))
	return maphash.Bytes(f.seed, f.b)
}

func (f *fingerprinter) int(n int64) { f.b = binary.LittleEndian.AppendUint64(f.b, uint64(n)) }

func (f *fingerprinter) bool(b bool) {
	if b {
		f.b = append(f.b, 1)
	} else {
		f.b = append(f.b, 0)
	}
}

func (f *fingerprinter) str(s string) {
	f.int(int64(len(s)))
	f.b = append(f.b, s...)
}

func (f *fingerprinter) strs(ss []string) {
	f.int(int64(len(ss)))
	for _, s := range ss {
		f.str(s)
	}
}

func (f *fingerprinter) policy(p *Policy) {
	f.affinity(p.ClusterAffinity)
	f.int(int64(len(p.ClusterAffinities)))
	for i := range p.ClusterAffinities {
		f.str(p.ClusterAffinities[i].AffinityName)
		f.affinity(&p.ClusterAffinities[i].ClusterAffinity)
	}
	f.int(int64(len(p.ClusterTolerations)))
	for _, t := range p.ClusterTolerations {
		f.str(t.Key)
		f.str(t.Operator)
		f.str(t.Value)
		f.str(t.Effect)
		f.bool(t.TolerationSeconds != nil)
		if t.TolerationSeconds != nil {
			f.int(*t.TolerationSeconds)
		}
	}
	f.int(int64(len(p.SpreadConstraints)))
	for _, s := range p.SpreadConstraints {
		f.str(s.SpreadByField)
		f.str(s.SpreadByLabel)
		f.int(int64(s.MaxGroups))
		f.int(int64(s.MinGroups))
	}
	rs := p.ReplicaScheduling
	f.bool(rs != nil)
	if rs != nil {
		f.str(rs.ReplicaSchedulingType)
		f.str(rs.ReplicaDivisionPreference)
		wp := rs.WeightPreference
		f.bool(wp != nil)
		if wp != nil {
			f.str(wp.DynamicWeight)
			f.int(int64(len(wp.StaticWeightList)))
			for i := range wp.StaticWeightList {
				f.affinity(&wp.StaticWeightList[i].TargetCluster)
				f.int(wp.StaticWeightList[i].Weight)
			}
		}
	}
	f.bool(p.Takeover != nil)
	if p.Takeover != nil {
		f.bool(*p.Takeover)
	}
	f.str(p.MaxSurge)
	f.str(p.Source)
	f.bool(p.Failover != nil)
	if p.Failover != nil {
		a := p.Failover.Application
		f.bool(a != nil)
		if a != nil {
			f.int32p(a.DecisionConditions.TolerationSeconds)
			f.str(a.PurgeMode)
			f.int32p(a.GracePeriodSeconds)
		}
	}
}

func (f *fingerprinter) int32p(n *int32) {
	f.bool(n != nil)
	if n != nil {
		f.int(int64(*n))
	}
}

func (f *fingerprinter) affinity(a *ClusterAffinity) {
	f.bool(a != nil)
	if a == nil {
		return
	}
	f.strs(a.ClusterNames)
	f.strs(a.ExcludeClusters)
	f.bool(a.FieldSelector != nil)
	if a.FieldSelector != nil {
		f.int(int64(len(a.FieldSelector.MatchExpressions)))
		for _, r := range a.FieldSelector.MatchExpressions {
			f.str(r.Key)
			f.str(r.Operator)
			f.strs(r.Values)
		}
	}
	ls := a.LabelSelector
	f.bool(ls != nil)
	if ls != nil {
		var sum uint64
		for k, v := range ls.MatchLabels {
			f.e = append(append(binary.LittleEndian.AppendUint64(f.e[:0], uint64(len(k))), k...), v...)
			sum += maphash.Bytes(f.seed, f.e)
		}
		f.int(int64(sum))
		f.int(int64(len(ls.MatchLabels)))
		f.int(int64(len(ls.MatchExpressions)))
		for _, r := range ls.MatchExpressions {
			f.str(r.Key)
			f.str(string(r.Operator))
			f.strs(r.Values)
		}
	}
}

// mix is splitmix64's finalizer: a bijection that spreads every bit of x over the result.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
