package crdt

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid wraps every validity error: the change is rejected and never stored.
var ErrInvalid = errors.New("invalid change")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkStructure applies the rules that need nothing but the change itself. need is
// the format level the change's operations need, unknownLevel if one of them is unknown
// to this release, and unknown then names it: checkLevel judges that in the causal past.
func checkStructure(c *Change) (need int, unknown, err error) {
	if c.Lamport == 0 {
		return 0, nil, invalid("lamport time 0")
	}
	if len(c.Ops) == 0 {
		return 0, nil, invalid("no operations")
	}
	need = 1
	charter := c.IsCharter()
	for i := range c.Ops {
		op := &c.Ops[i]
		if (op.Kind == KindCharter) != charter {
			return 0, nil, invalid("op %d: charter and other operations cannot share a change", i)
		}
		err := checkOp(op)
		var u unknownError
		switch {
		case errors.As(err, &u):
			if unknown == nil {
				need, unknown = unknownLevel, fmt.Errorf("op %d: %v", i, err)
			}
		case err != nil:
			return 0, nil, invalid("op %d: %v", i, err)
		default:
			need = max(need, opLevel(op))
		}
	}
	if len(c.Cosigs) > 0 && !charter {
		return 0, nil, invalid("cosignatures on a change that is not a charter change")
	}
	for _, cs := range c.Cosigs {
		if cs.Key == c.Author {
			return 0, nil, invalid("author cosigns its own change")
		}
	}
	return need, unknown, checkBound(c)
}

// checkBound enforces residency inside one change: sealed ops need a bound, a bound needs
// sealed ops, and a workload given a bound never carries its body in the clear.
func checkBound(c *Change) error {
	for _, j := range c.Bound {
		if !IsJurisdiction(j) {
			return invalid("bound: invalid jurisdiction %q", j)
		}
	}
	sealed := len(c.Sealed())
	if sealed > 0 && len(c.Bound) == 0 {
		return invalid("sealed operations without a bound")
	}
	if sealed == 0 && len(c.Bound) > 0 {
		return invalid("a bound without sealed operations")
	}
	bounded := map[string]bool{}
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Kind == KindWorkload && op.Type == OpSet && op.Field == "bound" && len(op.Value) > 0 {
			if string(op.Value) != strings.Join(c.Bound, ",") {
				return invalid("op %d: workload %q bound %q differs from the change's bound %q",
					i, op.Key, op.Value, strings.Join(c.Bound, ","))
			}
			bounded[op.Key] = true
		}
	}
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Kind == KindWorkload && op.Type == OpSet && IsBodyField(op.Field) && (len(c.Bound) > 0 || bounded[op.Key]) {
			return invalid("op %d: workload %q: body field %q of a bounded workload must be sealed", i, op.Key, op.Field)
		}
	}
	return nil
}

// checkAuthority applies the rules that need the charter of the change's causal past.
func checkAuthority(c *Change, ch *Charter) error {
	if c.IsCharter() {
		return checkAdmins(c, ch)
	}
	site, isSite := ch.Sites[c.Author]
	op, isOperator := ch.Operators[c.Author]
	for i := range c.Ops {
		o := &c.Ops[i]
		seg := strings.Split(o.Key, "/")
		switch o.Kind {
		case KindSite, KindCluster:
			if !isSite || seg[0] != site.Name {
				return invalid("op %d: %s %q is outside the author's scope (%s)", i, o.Kind, o.Key, describeAuthor(c.Author, ch))
			}
		case KindStatus:
			if !isSite || seg[2] != site.Name {
				return invalid("op %d: status %q is outside the author's scope (%s)", i, o.Key, describeAuthor(c.Author, ch))
			}
		case KindWorkload:
			if seg[0] == "" {
				if !isOperator || !op.ClusterScope {
					return invalid("op %d: workload %q: cluster-scoped templates not granted to %s (operator/<name>/clusterscope)", i, o.Key, describeAuthor(c.Author, ch))
				}
				continue
			}
			if !isOperator || !op.Allows(seg[0]) {
				return invalid("op %d: workload %q: namespace %q not granted to %s", i, o.Key, seg[0], describeAuthor(c.Author, ch))
			}
		case KindPolicy:
			// A namespaced policy selects templates of its namespace only; a cluster-scoped
			// one selects templates of every namespace, so it needs them all ("*").
			_, ns, _ := PolicyScope(o.Key)
			switch {
			case ns != "" && (!isOperator || !op.Allows(ns)):
				return invalid("op %d: policy %q: namespace %q not granted to %s", i, o.Key, ns, describeAuthor(c.Author, ch))
			case ns == "" && (!isOperator || !op.AllowsAll()):
				return invalid("op %d: policy %q: a cluster-scoped policy needs every namespace (\"*\"), not granted to %s", i, o.Key, describeAuthor(c.Author, ch))
			case strings.HasPrefix(o.Key, InterpreterPolicy+"/") && !op.ClusterScope:
				return invalid("op %d: policy %q: an interpreter customization needs cluster scope (operator/<name>/clusterscope), not granted to %s", i, o.Key, describeAuthor(c.Author, ch))
			}
		}
	}
	return nil
}

// checkAdmins requires the threshold of distinct admin signatures, counted in the charter
// the change builds on, and a usable charter after it.
func checkAdmins(c *Change, ch *Charter) error {
	if _, ok := ch.Admins[c.Author]; !ok {
		return invalid("charter change by %s, not an admin", describeAuthor(c.Author, ch))
	}
	for _, cs := range c.Cosigs {
		if _, ok := ch.Admins[cs.Key]; !ok {
			return invalid("charter change cosigned by %s, not an admin", cs.Key)
		}
	}
	if n := 1 + len(c.Cosigs); n < ch.Threshold {
		return invalid("charter change has %d admin signatures, the charter needs %d", n, ch.Threshold)
	}
	return nil
}

// checkUsable rejects a charter change that would leave no way to change the charter again.
func checkUsable(after *Charter) error {
	if after.Threshold < 1 || after.Threshold > len(after.Admins) {
		return invalid("charter would need %d admin signatures but has %d admins", after.Threshold, len(after.Admins))
	}
	return nil
}

func describeAuthor(k PubKey, ch *Charter) string {
	switch {
	case ch.Sites[k] != nil:
		return "site " + ch.Sites[k].Name
	case ch.Operators[k] != nil:
		return "operator " + ch.Operators[k].Name
	case ch.Admins[k] != "":
		return "admin " + ch.Admins[k]
	case ch.Observers[k] != "":
		return "observer " + ch.Observers[k]
	}
	return "unknown key " + k.String()
}
