package kube

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"atoll/crdt"
)

const gpu corev1.ResourceName = "nvidia.com/gpu"

// gpuNode is a ready node with cpu, memory, pods and the extended resources given.
func gpuNode(name string, ready bool, ext map[string]string) *corev1.Node {
	n := node(name, ready, "8", "32Gi")
	for r, v := range ext {
		n.Status.Allocatable[corev1.ResourceName(r)] = resource.MustParse(v)
	}
	return n
}

// gpuPod is a pod bound to a node asking for GPUs through its limits only, as pods do.
func gpuPod(nodeName string, phase corev1.PodPhase, n string) *corev1.Pod {
	p := pod(nodeName, phase, "100m", "64Mi")
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{gpu: resource.MustParse(n)}
	return p
}

// TestCapacityExtended: a cluster publishes the sums of its ready nodes' extended
// resources, free of what pods ask through their limits, and no native resource it did
// not publish before (hugepages); a node's own field stays cpu, memory and pods.
func TestCapacityExtended(t *testing.T) {
	nodes := []*corev1.Node{
		gpuNode("a", true, map[string]string{"nvidia.com/gpu": "4", "amd.com/gpu": "2", "hugepages-2Mi": "1Gi"}),
		gpuNode("b", true, map[string]string{"nvidia.com/gpu": "4"}),
		gpuNode("down", false, map[string]string{"nvidia.com/gpu": "8", "example.com/only-down": "1"}),
		node("plain", true, "8", "32Gi"),
	}
	pods := []*corev1.Pod{
		gpuPod("a", corev1.PodRunning, "1"),
		gpuPod("b", corev1.PodPending, "2"),
		gpuPod("b", corev1.PodSucceeded, "2"), // ended: frees its GPUs
		gpuPod("b", corev1.PodRunning, "5"),   // more than b holds: free is 0, not negative
		gpuPod("", corev1.PodPending, "1"),    // unscheduled
	}
	// b's second pod asks more than is left: b is at 0; a has 3 free.
	c := Capacity(nodes, pods)
	want := []ExtendedCapacity{{"amd.com/gpu", 2, 2}, {"nvidia.com/gpu", 8, 3}}
	if !slices.Equal(c.Extended, want) || len(c.Ignored) != 0 {
		t.Fatalf("extended %+v, ignored %q; want %+v and nothing ignored", c.Extended, c.Ignored, want)
	}
	f := Snapshot{Healthy: true, Capacity: c}.Fields()
	for k, v := range map[string]string{
		"allocatable/nvidia.com/gpu": "8", "available/nvidia.com/gpu": "3", "allocatable/amd.com/gpu": "2", "available/amd.com/gpu": "2",
		"available/node/a": "cpu=7900m,memory=32704Mi,pods=109",
	} {
		if f[k] != v {
			t.Errorf("field %s = %q, want %q", k, f[k], v)
		}
	}
	for k := range f {
		if strings.Contains(k, "hugepages") || strings.Contains(k, "only-down") {
			t.Errorf("field %s published", k)
		}
	}
}

// hostileNodes are the nodes of a member cluster that tries to blow up its record: 100
// valid extended resources, names too long or malformed, amounts that are fractions,
// huge or that overflow when summed.
func hostileNodes() []*corev1.Node {
	many := map[string]string{}
	for i := range 100 {
		many[fmt.Sprintf("vendor%03d.example.com/dev", i)] = "1"
	}
	many[strings.Repeat("x", 120)+".example.com/dev"] = "1" // over 128 bytes
	many["bad_domain.example.com/dev"] = "1"                // not a DNS subdomain
	many["node/n1"] = "1"                                   // would overwrite node n1's field
	many["vendor000.example.com/dev"] = "1500m"             // not whole units on this node
	other := map[string]string{"vendor000.example.com/dev": "3", "vendor001.example.com/dev": "1e30"}
	huge := map[string]string{"vendor002.example.com/dev": fmt.Sprint(MaxExtendedUnits)}
	return []*corev1.Node{gpuNode("n0", true, many), gpuNode("n1", true, other), gpuNode("n2", true, huge), gpuNode("n3", true, huge)}
}

// TestCapacityExtendedBounds: a member cluster cannot blow up its cluster's record: the
// first MaxExtended valid names are kept, amounts out of range count as 0, sums saturate,
// and every left-out thing is said, in a few short notes. The record signs within the
// soft record's bound.
func TestCapacityExtendedBounds(t *testing.T) {
	c := Capacity(hostileNodes(), nil)
	if len(c.Extended) != MaxExtended || c.Extended[0].Name != "vendor000.example.com/dev" || c.Extended[MaxExtended-1].Name != "vendor031.example.com/dev" {
		t.Fatalf("kept %d extended resources from %+v; want the first %d by name", len(c.Extended), c.Extended[0], MaxExtended)
	}
	got := map[string]ExtendedCapacity{}
	for _, e := range c.Extended {
		got[e.Name] = e
	}
	for name, want := range map[string]int64{
		"vendor000.example.com/dev": 3,                // n0's 1500m counts as 0
		"vendor001.example.com/dev": 1,                // n1's 1e30 counts as 0
		"vendor002.example.com/dev": MaxExtendedUnits, // 1 + 2^50 + 2^50, saturated
	} {
		if e := got[name]; e.Allocatable != want || e.Free != want {
			t.Errorf("%s: %+v, want %d allocatable and free", name, e, want)
		}
	}
	notes := strings.Join(c.Ignored, "\n")
	for _, want := range []string{
		"3 extended resource names not valid", "68 extended resources beyond the first 32 by name left out, from \"vendor032.example.com/dev\"",
		`vendor000.example.com/dev: node "n0" advertises an amount that is not a whole number`,
		`vendor001.example.com/dev: node "n1"`, "vendor002.example.com/dev: the nodes' sum capped at 1125899906842624",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if len(c.Ignored) > 8 || len(notes) > 2048 {
		t.Errorf("%d notes of %d bytes: not bounded", len(c.Ignored), len(notes))
	}
	// The worst a cluster can publish is a small record: sign it as a site does.
	f := Snapshot{Healthy: true, Capacity: c}.Fields()
	var fields []crdt.SoftField
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if crdt.IsSoft(crdt.KindCluster, k) {
			fields = append(fields, crdt.SoftField{Name: k, Value: []byte(f[k])})
		}
	}
	raw, err := crdt.SignSoft(crdt.Hash{}, &crdt.SoftRecord{Kind: crdt.KindCluster, Key: "s0/c0", Seq: 1, Fields: fields}, crdt.SignerFromSeed(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 16<<10 {
		t.Errorf("a hostile cluster's record is %d bytes", len(raw))
	}
	t.Logf("a hostile cluster's record: %d fields, %d bytes", len(fields), len(raw))
}

// TestReadCapacity: what a peer publishes is read within the same bounds, alike at every
// site; what is left out is said.
func TestReadCapacity(t *testing.T) {
	build := func() (alloc, avail map[string]string) {
		alloc = map[string]string{"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "8", "hugepages-2Mi": "1Gi",
			"bad_domain.example.com/x": "1", "node/n0": "1", "neg.example.com/x": "-1", "frac.example.com/x": "1500m", "big.example.com/x": "1e30", "junk.example.com/x": "lots"}
		avail = map[string]string{"cpu": "500m", "nvidia.com/gpu": "3", "neg.example.com/x": "0"}
		for i := range 40 {
			alloc[fmt.Sprintf("v%02d.example.com/dev", i)] = "2"
		}
		return alloc, avail
	}
	alloc, avail := build()
	ignored := ReadCapacity(alloc, avail)
	var ext []string
	for r := range alloc {
		if strings.Contains(r, "/") {
			ext = append(ext, r)
		}
	}
	slices.Sort(ext)
	if len(ext) != MaxExtended || ext[0] != "nvidia.com/gpu" || ext[1] != "v00.example.com/dev" || ext[MaxExtended-1] != "v30.example.com/dev" {
		t.Errorf("extended resources read: %q; want nvidia.com/gpu and v00..v30 (the first %d by name)", ext, MaxExtended)
	}
	if alloc["cpu"] != "8" || avail["cpu"] != "500m" || avail["nvidia.com/gpu"] != "3" || alloc["hugepages-2Mi"] != "" || avail["neg.example.com/x"] != "" {
		t.Errorf("read %v / %v", alloc, avail)
	}
	notes := strings.Join(ignored, "\n")
	for _, want := range []string{
		`1 resources neither cpu, memory, pods nor extended not read, from "hugepages-2Mi"`,
		`2 extended resources with invalid names not read, from "bad_domain.example.com/x"`,
		`4 extended resources whose amounts are not whole numbers from 0 to 1125899906842624 not read, from "big.example.com/x"`,
		`9 extended resources beyond the first 32 by name not read, from "v31.example.com/dev"`,
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	for range 5 { // a function of the fields alone
		a2, v2 := build()
		if i2 := ReadCapacity(a2, v2); !slices.Equal(i2, ignored) || !maps.Equal(a2, alloc) || !maps.Equal(v2, avail) {
			t.Fatalf("two reads of one cluster differ: %q vs %q", i2, ignored)
		}
	}
}

func TestParseUnits(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "8": 8, "2k": 2000, "4000m": 4, "1125899906842624": MaxExtendedUnits} {
		if n, err := ParseUnits(s); err != nil || n != want {
			t.Errorf("ParseUnits(%q) = %d, %v; want %d", s, n, err, want)
		}
	}
	for _, s := range []string{"", "-1", "1500m", "1n", "1e30", "1125899906842625", "x", "1Ki "} {
		if n, err := ParseUnits(s); err == nil {
			t.Errorf("ParseUnits(%q) = %d, want an error", s, n)
		}
	}
	long := strings.Repeat("a", 300) + ".com/x"
	if err := CheckExtendedName(long); err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "306 bytes long, over 128") {
		t.Errorf("CheckExtendedName(a 306-byte name) = %v; want a short error naming the length", err)
	}
}
