package crdt

import (
	"errors"
	"fmt"
	"strconv"
)

// Bounds on values that cost work at every site. A workload's replicas are divided by
// every site on every pass, so one change must not be able to ask for an unbounded
// number: the charter of a change's causal past sets the most replicas a workload may
// have (its maxReplicas field), DefaultMaxReplicas when it does not say.
const (
	// DefaultMaxReplicas is a workload's replicas limit under a charter without maxReplicas.
	DefaultMaxReplicas = 100_000
	// MaxMaxReplicas is the most a charter may grant: Kubernetes' replicas are an int32.
	MaxMaxReplicas = 1<<31 - 1
)

// MaxReplicasField is the charter field that sets the replicas limit (decimal).
const MaxReplicasField = "maxReplicas"

// MaxReplicasOp is the charter operation that sets the replicas limit to n.
func MaxReplicasOp(n int) Op {
	return Op{Type: OpSet, Kind: KindCharter, Field: MaxReplicasField, Value: []byte(strconv.Itoa(n))}
}

// MaxReplicas is the most replicas a workload may have under this charter.
func (c *Charter) MaxReplicas() int {
	if r, ok := c.obj.get(MaxReplicasField); ok {
		if n, err := ParseReplicas(string(r.val), MaxMaxReplicas); err == nil && n > 0 {
			return n
		}
	}
	return DefaultMaxReplicas
}

// ErrReplicasLimit is wrapped by ParseReplicas's error for a well-formed value above the
// limit.
var ErrReplicasLimit = errors.New("above the limit")

// ParseReplicas reads a replicas value: base-10 digits without sign or leading zeros,
// at most limit. The error names the value and, if it is above it, the limit.
func ParseReplicas(v string, limit int) (int, error) {
	if v == "" || len(v) > 1 && v[0] == '0' {
		return 0, fmt.Errorf("replicas %q: want a base-10 non-negative integer", v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("replicas %s: want a base-10 non-negative integer", short(v))
		}
	}
	n := 0
	for i := 0; i < len(v); i++ {
		d := int(v[i] - '0')
		if n > (limit-d)/10 { // n*10 + d > limit, without overflow
			return 0, fmt.Errorf("replicas %s: %w of %d", short(v), ErrReplicasLimit, limit)
		}
		n = n*10 + d
	}
	return n, nil
}

// short quotes v, cut if it is long.
func short(v string) string {
	if len(v) > 40 {
		return strconv.Quote(v[:40]) + "..."
	}
	return v
}

// checkMaxReplicasField validates the charter's maxReplicas: 1 to MaxMaxReplicas.
func checkMaxReplicasField(op *Op) error {
	if op.Type != OpSet {
		return fmt.Errorf("charter: %s cannot be deleted: set it to %d for the default", op.Field, DefaultMaxReplicas)
	}
	if n, err := ParseReplicas(string(op.Value), MaxMaxReplicas); err != nil || n < 1 {
		return fmt.Errorf("charter: %s %q is not a number from 1 to %d", op.Field, op.Value, MaxMaxReplicas)
	}
	return nil
}

// checkLimits applies the charter's bounds on values: every workload replicas a change
// sets is a base-10 non-negative integer no larger than the charter's MaxReplicas. A
// malformed value is a structure error, one above the limit a limit error.
func checkLimits(c *Change, ch *Charter) error {
	limit := ch.MaxReplicas()
	for i := range c.Ops {
		o := &c.Ops[i]
		if o.Kind != KindWorkload || o.Type != OpSet || o.Field != "replicas" {
			continue
		}
		_, err := ParseReplicas(string(o.Value), limit)
		switch {
		case errors.Is(err, ErrReplicasLimit):
			return because(ReasonLimit, invalid("op %d: workload %q: %v (the charter's %s)", i, o.Key, err, MaxReplicasField))
		case err != nil:
			return because(ReasonStructure, invalid("op %d: workload %q: %v", i, o.Key, err))
		}
	}
	return nil
}
