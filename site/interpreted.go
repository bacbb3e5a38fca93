package site

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"sigs.k8s.io/yaml"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/crdt"
	"atoll/interpret"
	"atoll/site/kube"
)

// interpretedStatus reads the health of an object whose kind has a stored
// resource-interpreter customization with a healthInterpretation script (package
// interpret, run in its sandbox): ready and available are 1 while the script says
// healthy, else 0, with the reason in conditions. ok is false if no customization
// interprets the kind's health; cur is then left as it was.
func (s *Site) interpretedStatus(w kube.Workload, u *unstructured.Unstructured, desired int, cur map[string]string) bool {
	s.mu.Lock()
	c := s.policySet().Interpreters().For(u.GetAPIVersion(), u.GetKind(), interpret.OpHealth)
	s.mu.Unlock()
	if c == nil {
		return false
	}
	healthy, err := c.InterpretHealth(u.Object)
	switch {
	case err != nil:
		cur["ready"], cur["available"], cur["conditions"] = "0", "0", "Healthy=Unknown"
		s.log.Warn("health interpretation failed", "workload", w.Namespace+"/"+w.Name, "customization", c.Name, "err", err)
	case healthy:
		n := strconv.Itoa(desired)
		cur["ready"], cur["available"], cur["conditions"] = n, n, "Healthy=True"
	default:
		cur["ready"], cur["available"], cur["conditions"] = "0", "0", "Healthy=False"
	}
	return true
}

// reflectedStatus adds to cur, from format level crdt.FormatStatusReflection, what the
// stored customization of u's kind with a statusReflection script reads of u's status
// (as JSON, at most crdt.MaxReflectedBytes): what every site's describe aggregates with
// the kind's statusAggregation (aggregatedStatus). Nothing is added without such a
// customization, or when the script fails or says too much (logged).
func (s *Site) reflectedStatus(w kube.Workload, u *unstructured.Unstructured, cur map[string]string) {
	s.mu.Lock()
	c := s.policySet().Interpreters().For(u.GetAPIVersion(), u.GetKind(), interpret.OpStatusReflection)
	s.mu.Unlock()
	if c == nil {
		return
	}
	st, err := c.ReflectStatus(u.Object)
	if err == nil && st == nil {
		return
	}
	var b []byte
	if err == nil {
		b, err = json.Marshal(st)
	}
	if err == nil && len(b) > crdt.MaxReflectedBytes {
		err = fmt.Errorf("%d bytes of JSON, above the limit of %d", len(b), crdt.MaxReflectedBytes)
	}
	if err != nil {
		s.log.Warn("status reflection not reported", "workload", w.Namespace+"/"+w.Name, "customization", c.Name, "err", err)
		return
	}
	cur[crdt.Reflected] = string(b)
}

// aggregatedStatus sets p.Status, for a custom resource whose kind has a stored
// customization with a statusAggregation script, to what it makes of the template and
// the status each cluster reflected, as Karmada's AggregateStatus does; a failure is a
// condition. It runs for one workload's describe, never for the whole view.
func (s *Site) aggregatedStatus(p *Placement, w *workload) {
	if len(w.reflected) == 0 || w.render.Template == nil {
		return
	}
	s.mu.Lock()
	c := s.policySet().Interpreters().For(w.render.APIVersion, w.kind, interpret.OpStatusAggregate)
	s.mu.Unlock()
	if c == nil {
		return
	}
	var desired map[string]any
	if err := yaml.Unmarshal(w.render.Template, &desired); err != nil {
		return
	}
	var items []interpret.StatusItem
	for _, at := range slices.Sorted(maps.Keys(w.reflected)) {
		var st map[string]any
		if json.Unmarshal([]byte(w.reflected[at]), &st) != nil {
			continue
		}
		health := "Unhealthy"
		if o := w.sched.Status[at]; o.Desired > 0 && o.Ready >= o.Desired {
			health = "Healthy"
		}
		items = append(items, interpret.StatusItem{ClusterName: at, Status: st, Applied: true, Health: health})
	}
	out, err := c.AggregateStatus(desired, items)
	var b []byte
	if err == nil {
		b, err = json.Marshal(out["status"])
	}
	if err != nil {
		p.Conditions = append(p.Conditions, fmt.Sprintf("statusAggregation of %s: %v", c.Name, err))
		return
	}
	p.Status = b
}
