package site

import (
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
