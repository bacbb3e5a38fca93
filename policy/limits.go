package policy

import (
	"errors"
	"fmt"
)

// DefaultMaxReplicas is the most replicas a workload may have unless the federation's
// charter grants more (its maxReplicas field). It is crdt.DefaultMaxReplicas, which sites
// enforce; policy does not import crdt.
const DefaultMaxReplicas = 100_000

// CheckReplicas returns an error naming, with its manifest, every workload whose replicas
// are above limit: sites would reject the change that writes it.
func CheckReplicas(ws []Workload, limit int) error {
	var errs []error
	for _, w := range ws {
		if w.Replicas > limit {
			field := "replicas"
			if w.Kind == "Job" {
				field = "parallelism"
			}
			errs = append(errs, fmt.Errorf("%s: %s %s: spec.%s %d is above the federation's limit of %d replicas per workload (the charter's maxReplicas)",
				w.Source, w.Kind, w.Key, field, w.Replicas, limit))
		}
	}
	return errors.Join(errs...)
}
