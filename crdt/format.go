package crdt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Format levels (docs/adr/0013-format-levels.md). The charter carries the level the
// federation has reached (its "format" field, absent: 1); each addition to what a change
// or a soft record may hold names the level that enables it, and is valid only under a
// charter of that level in the change's causal past. A release implements the levels up
// to MaxFormat.
const (
	// MaxFormat is the highest level this release implements.
	MaxFormat = 4
	// FormatJobs enables dividing Jobs (parallelism and completions) and the soft status
	// counts of Jobs (active, succeeded, failed): level 2.
	FormatJobs = 2
	// FormatClusterScope enables cluster-scoped templates (workload keys "/<name>", their
	// status keys "/<name>/<site>/<cluster>") and the charter's grant of them to an
	// operator (operator/<name>/clusterscope): level 3.
	FormatClusterScope = 3
	// FormatInterpreter enables stored resource-interpreter customizations (policy keys
	// resourceinterpretercustomization/<name>), written by operators granted cluster
	// scope since they change how every site reads a kind in every namespace: level 3.
	FormatInterpreter = 3
	// FormatFailover enables the facts failover controls are timed by
	// (docs/adr/0014-failover-controls.md): a cluster's taintedAt/<key>, when its site set
	// the taint, and the soft status fields unhealthySince and evictedAt: level 4.
	FormatFailover = 4
	// FormatStatusReflection enables the soft status field reflected: what a stored
	// customization's statusReflection reads of a custom resource in each cluster, which
	// its statusAggregation aggregates: level 4.
	FormatStatusReflection = 4
	// MaxFormatValue bounds the charter's format field.
	MaxFormatValue = 1000
	// FormatField is the charter field holding the level.
	FormatField = "format"
)

// unknownLevel is the level of what no level of this release knows: a field, kind or key
// form of a later release, or a forgery. Only a charter beyond MaxFormat can tell which.
const unknownLevel = 1 << 30

// FormatOp is the charter operation that sets the format level to n.
func FormatOp(n int) Op {
	return Op{Type: OpSet, Kind: KindCharter, Field: FormatField, Value: []byte(strconv.Itoa(n))}
}

// Format is the charter's format level: 1 if the field is absent.
func (c *Charter) Format() int {
	if r, ok := c.obj.get(FormatField); ok {
		if n, err := ParseReplicas(string(r.val), MaxFormatValue); err == nil && n >= 1 {
			return n
		}
	}
	return 1
}

// checkFormatField validates the charter's format: 1 to MaxFormatValue. Any level is
// well-formed here; whether a release implements it is the sites' business (a site
// behind it stops, visibly), and that it never goes down is checked in the causal past.
func checkFormatField(op *Op) error {
	if op.Type != OpSet {
		return fmt.Errorf("charter: %s cannot be deleted", op.Field)
	}
	if n, err := ParseReplicas(string(op.Value), MaxFormatValue); err != nil || n < 1 {
		return fmt.Errorf("charter: %s %q is not a level from 1 to %d", op.Field, op.Value, MaxFormatValue)
	}
	return nil
}

// TaintedAtPrefix starts a cluster field that says when its site set the taint of the
// same key (RFC 3339): "taintedAt/<key>", level FormatFailover.
const TaintedAtPrefix = "taintedAt/"

// InterpreterPolicy is the policy key kind of a stored ResourceInterpreterCustomization.
const InterpreterPolicy = "resourceinterpretercustomization"

// opLevel is the level a well-formed operation needs.
func opLevel(op *Op) int {
	switch {
	case clusterScoped(op.Kind, op.Key):
		return FormatClusterScope
	case op.Kind == KindCharter && strings.HasPrefix(op.Field, "operator/") && strings.HasSuffix(op.Field, "/clusterscope"):
		return FormatClusterScope
	case op.Kind == KindPolicy && strings.HasPrefix(op.Key, InterpreterPolicy+"/"):
		return FormatInterpreter
	case op.Kind == KindCluster && strings.HasPrefix(op.Field, TaintedAtPrefix):
		return FormatFailover
	}
	return 1
}

// clusterScoped reports whether a workload or status key is of a cluster-scoped
// template: its namespace segment is empty.
func clusterScoped(kind Kind, key string) bool {
	return (kind == KindWorkload || kind == KindStatus) && strings.HasPrefix(key, "/")
}

// unknownError is a schema error naming what no level of this release knows.
type unknownError struct{ error }

func (e unknownError) Unwrap() error { return e.error }

// ErrBeyond is why a replica holds a change without judging it: the change uses what
// this release does not know, and the charter of its causal past has a level beyond
// MaxFormat, so it may be valid there. Its author is not at fault; upgrading the site
// lets anti-entropy bring it again.
var ErrBeyond = errors.New("beyond this release's format level")

// checkLevel checks a change against the format level of the charter of its causal
// past. need is the highest level the change's operations use, unknown the first
// operation this release does not know (nil if none).
func checkLevel(need int, unknown error, ch *Charter) error {
	level := ch.Format()
	switch {
	case need <= level:
		return nil
	case level > MaxFormat:
		return fmt.Errorf("%w: the charter requires format %d, this release implements %d (%v)", ErrBeyond, level, MaxFormat, unknown)
	case unknown != nil:
		return invalid("%v", unknown)
	}
	return invalid("needs format level %d, the charter of its causal past has %d", need, level)
}

// checkFormatRaise rejects a charter change that lowers the format level: a level,
// once reached, stays (concurrent amendments still merge like any field).
func checkFormatRaise(before, after *Charter) error {
	if after.Format() < before.Format() {
		return invalid("charter: format %d would lower the level %d", after.Format(), before.Format())
	}
	return nil
}
