package kube

import (
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"atoll/crdt"
)

// Snapshot is what a site observed of one member cluster.
type Snapshot struct {
	Healthy    bool
	Reason     string // why not healthy
	Version    string // gitVersion from /version
	Nodes      int
	ReadyNodes int
	Provider   string // from node labels: the first node's provider ID scheme
	Region     string // topology.kubernetes.io/region of the nodes, if they agree
	Zone       string // topology.kubernetes.io/zone, if the nodes agree
	Labels     map[string]string
	Taints     []string // as joined: "key=value:Effect"
	Capacity   ClusterCapacity
}

// Fields returns the Cluster object's fields for a snapshot (crdt schema: cluster).
func (s Snapshot) Fields() map[string]string {
	f := map[string]string{
		"health":     "unhealthy",
		"nodes":      strconv.Itoa(s.Nodes),
		"readyNodes": strconv.Itoa(s.ReadyNodes),
	}
	if s.Healthy {
		f["health"] = "healthy"
	}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("reason", s.Reason)
	set("k8sVersion", s.Version)
	set("provider", s.Provider)
	set("region", s.Region)
	set("zone", s.Zone)
	for k, v := range s.Labels {
		f["labels/"+k] = v
	}
	for _, t := range s.Taints {
		if k, v, e, err := ParseTaint(t); err == nil {
			f["taints/"+k] = v + ":" + e
		}
	}
	alloc, free := corev1.ResourceList{}, corev1.ResourceList{}
	for _, n := range s.Capacity.Nodes {
		add(alloc, n.Allocatable)
		add(free, n.Free)
		f["available/node/"+n.Name] = FormatResources(n.Free)
	}
	for _, r := range Resources {
		if q, ok := alloc[r]; ok {
			f["allocatable/"+string(r)] = q.String()
		}
		if q, ok := free[r]; ok {
			f["available/"+string(r)] = q.String()
		}
	}
	for _, e := range s.Capacity.Extended {
		f["allocatable/"+e.Name] = strconv.FormatInt(e.Allocatable, 10)
		f["available/"+e.Name] = strconv.FormatInt(e.Free, 10)
	}
	return f
}

// capacityField reports whether a field only follows capacity, which changes with every
// pod and is published at a slower pace.
func capacityField(f string) bool {
	return len(f) > 10 && (f[:10] == "available/" || len(f) > 12 && f[:12] == "allocatable/")
}

// Ops returns the operations that bring the published fields (prev) to cur for the
// cluster object key. Capacity fields are included only when withCapacity is set or
// something else changed too; fields no longer observed are deleted.
func Ops(key string, prev, cur map[string]string, withCapacity bool) []crdt.Op {
	var ops []crdt.Op
	other := false
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if prev[k] != cur[k] || !has(prev, k) {
			if !capacityField(k) {
				other = true
			}
			ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: key, Field: k, Value: []byte(cur[k])})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(prev)) {
		if !has(cur, k) && k != "observed" {
			if !capacityField(k) {
				other = true
			}
			ops = append(ops, crdt.Op{Type: crdt.OpDelete, Kind: crdt.KindCluster, Key: key, Field: k})
		}
	}
	if withCapacity || other {
		return ops
	}
	return slices.DeleteFunc(ops, func(op crdt.Op) bool { return capacityField(op.Field) })
}

func has(m map[string]string, k string) bool { _, ok := m[k]; return ok }
