package kube

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"atoll/scheduler"
)

// Extended resources (nvidia.com/gpu, amd.com/gpu, ...: scheduler.Extended) are published
// per cluster beside cpu, memory and pods, as allocatable/<name> and available/<name>
// sums over the ready nodes, in whole units. A member cluster's nodes, like a peer's
// record, may carry anything, so both the site that publishes and every site that reads
// hold them to these bounds (docs/SECURITY.md). What is left out is said: the publishing
// site logs it and records an event; readers show it with the cluster (ClusterView).
const (
	// MaxExtended is how many extended resources a cluster publishes and a site reads of
	// one cluster: the first in name order.
	MaxExtended = 32
	// MaxExtendedName bounds the bytes of an extended resource's name (nvidia.com/gpu is
	// 14, nvidia.com/mig-3g.20gb 22).
	MaxExtendedName = 128
	// MaxExtendedUnits bounds one extended resource of one cluster, summed over its
	// nodes: 2^50, about 10^15, exact as a float64 (the dashboard's numbers) and far from
	// overflowing the scheduler's int64 sums.
	MaxExtendedUnits = 1 << 50
)

// maxNoteName bounds a name quoted in a note: names come from member clusters and peers.
const maxNoteName = 64

var maxUnits = resource.NewQuantity(MaxExtendedUnits, resource.DecimalSI)

// CheckExtendedName says why a resource name is not an extended resource a site
// publishes, or returns nil: not scheduler.Extended, longer than MaxExtendedName, or not
// what Kubernetes accepts as one (a qualified name, also behind the quota's "requests."),
// or in the domain "node", whose fields are the nodes' own.
func CheckExtendedName(name string) error {
	switch {
	case !scheduler.Extended(name):
		return fmt.Errorf("%s is not an extended resource (a name with a domain prefix outside kubernetes.io)", quote(name))
	case len(name) > MaxExtendedName:
		return fmt.Errorf("%s is %d bytes long, over %d", quote(name), len(name), MaxExtendedName)
	case strings.HasPrefix(name, "node/"):
		return fmt.Errorf("%s would read as a node's field (available/node/<node>)", quote(name))
	}
	if errs := validation.IsQualifiedName("requests." + name); len(errs) > 0 {
		return fmt.Errorf("%s is not a valid extended resource name: %s", quote(name), errs[0])
	}
	return nil
}

// units is a quantity as a whole number of units in [0, MaxExtendedUnits], if it is one.
func units(q resource.Quantity) (int64, bool) {
	if q.Sign() < 0 || q.Cmp(*maxUnits) > 0 {
		return 0, false
	}
	m := q.MilliValue() // exact up to 2^50 units; a fraction rounds up, so it shows
	if m%1000 != 0 {
		return 0, false
	}
	return m / 1000, true
}

// ParseUnits reads a published extended resource amount: a whole number of units in
// [0, MaxExtendedUnits], as a Kubernetes quantity ("8", "2k").
func ParseUnits(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", quote(s), err)
	}
	n, ok := units(q)
	if !ok {
		return 0, fmt.Errorf("%s is not a whole number of units from 0 to %d", quote(s), MaxExtendedUnits)
	}
	return n, nil
}

// extendedNames returns the extended resources the nodes advertise that a cluster
// publishes: valid names, the first MaxExtended in name order; and notes on the names
// left out.
func extendedNames(nodes []*corev1.Node) (names []string, notes []string) {
	seen := map[corev1.ResourceName]bool{}
	var invalid []string
	for _, n := range nodes {
		for r := range n.Status.Allocatable {
			if seen[r] || !scheduler.Extended(string(r)) {
				continue
			}
			seen[r] = true
			if CheckExtendedName(string(r)) != nil {
				invalid = append(invalid, string(r))
				continue
			}
			names = append(names, string(r))
		}
	}
	slices.Sort(names)
	slices.Sort(invalid)
	if len(invalid) > 0 {
		notes = append(notes, fmt.Sprintf("%d extended resource names not valid, left out: %v", len(invalid), CheckExtendedName(invalid[0])))
	}
	if len(names) > MaxExtended {
		notes = append(notes, fmt.Sprintf("%d extended resources beyond the first %d by name left out, from %s",
			len(names)-MaxExtended, MaxExtended, quote(names[MaxExtended])))
		names = names[:MaxExtended]
	}
	return names, notes
}

// extendedSums sums the extended resources of the nodes' capacity into whole units,
// saturating at MaxExtendedUnits: a node's amount that is not a whole number in range
// counts as 0, and says so.
func extendedSums(nodes []NodeCapacity, names []string) (alloc, free map[string]int64, notes []string) {
	alloc, free = map[string]int64{}, map[string]int64{}
	bad := map[string]string{} // resource -> the first node whose amount was refused
	capped := map[string]bool{}
	sum := func(m map[string]int64, r string, q resource.Quantity, node string) {
		n, ok := units(q)
		if !ok {
			if bad[r] == "" {
				bad[r] = node
			}
			n = 0
		}
		if m[r]+n > MaxExtendedUnits {
			capped[r] = true
		}
		m[r] = min(m[r]+n, MaxExtendedUnits)
	}
	for _, n := range nodes {
		for _, r := range names {
			if q, ok := n.Allocatable[corev1.ResourceName(r)]; ok {
				sum(alloc, r, q, n.Name)
				sum(free, r, n.Free[corev1.ResourceName(r)], n.Name)
			}
		}
	}
	for _, r := range slices.Sorted(maps.Keys(bad)) {
		notes = append(notes, fmt.Sprintf("%s: node %s advertises an amount that is not a whole number of units from 0 to %d, counted as 0",
			r, quote(bad[r]), MaxExtendedUnits))
	}
	for _, r := range slices.Sorted(maps.Keys(capped)) {
		notes = append(notes, fmt.Sprintf("%s: the nodes' sum capped at %d", r, MaxExtendedUnits))
	}
	return alloc, free, notes
}

// ReadCapacity holds a cluster's published capacity, as any site reads it from the
// state, to what a site publishes: cpu, memory and pods as they are, and at most
// MaxExtended extended resources (the first in name order) with valid names and whole
// amounts in range. It deletes the rest from alloc and avail (allocatable/<name> and
// available/<name> by name) and returns what it left out, in a few bounded notes. It is
// a function of the fields alone, so every site reads a cluster alike.
func ReadCapacity(alloc, avail map[string]string) (ignored []string) {
	names := map[string]bool{}
	for r := range alloc {
		names[r] = true
	}
	for r := range avail {
		names[r] = true
	}
	var other, invalid, badValue, ext []string
	for _, r := range slices.Sorted(maps.Keys(names)) {
		switch {
		case slices.Contains(Resources, corev1.ResourceName(r)):
			continue
		case !scheduler.Extended(r):
			other = append(other, r)
		case CheckExtendedName(r) != nil:
			invalid = append(invalid, r)
		case !wholeOrAbsent(alloc, r) || !wholeOrAbsent(avail, r):
			badValue = append(badValue, r)
		default:
			ext = append(ext, r)
		}
	}
	var beyond []string
	if len(ext) > MaxExtended {
		beyond = ext[MaxExtended:]
	}
	note := func(names []string, what string) {
		if len(names) == 0 {
			return
		}
		for _, r := range names {
			delete(alloc, r)
			delete(avail, r)
		}
		ignored = append(ignored, fmt.Sprintf("%d %s not read, from %s", len(names), what, quote(names[0])))
	}
	note(other, "resources neither cpu, memory, pods nor extended")
	note(invalid, "extended resources with invalid names")
	note(badValue, "extended resources whose amounts are not whole numbers from 0 to "+strconv.Itoa(MaxExtendedUnits))
	note(beyond, "extended resources beyond the first "+strconv.Itoa(MaxExtended)+" by name")
	return ignored
}

func wholeOrAbsent(m map[string]string, r string) bool {
	v, ok := m[r]
	if !ok {
		return true
	}
	_, err := ParseUnits(v)
	return err == nil
}

// quote quotes a name from a member cluster or a peer, cut to maxNoteName bytes.
func quote(s string) string {
	if len(s) > maxNoteName {
		return strconv.Quote(s[:maxNoteName]) + "..."
	}
	return strconv.Quote(s)
}
