package crdt

import "errors"

// Reasons a change is rejected, as RejectReason names them: a small fixed set, stable
// across releases, for metrics labels and summaries. The error itself says the detail.
const (
	ReasonMalformed  = "malformed"  // the bytes do not decode, or exceed a size limit
	ReasonSignature  = "signature"  // the author's or a cosigner's signature does not verify
	ReasonStructure  = "structure"  // it breaks a rule of its own content: ops, fields, keys, bound, Lamport time
	ReasonAuthority  = "authority"  // the charter of its causal past forbids it: scope, admin signatures, an unusable charter
	ReasonDependency = "dependency" // it depends on a rejected change, or on nothing (a second genesis)
	ReasonLimit      = "limit"      // a value above a bound the charter of its causal past sets: a workload's replicas
	ReasonQuota      = "quota"      // it takes an operator past a quota of the charter (quota.go)
	ReasonOther      = "other"      // an error crdt did not classify
)

// RejectReasons lists every reason RejectReason returns, in a fixed order.
func RejectReasons() []string {
	return []string{ReasonMalformed, ReasonSignature, ReasonStructure, ReasonAuthority, ReasonDependency, ReasonLimit, ReasonQuota, ReasonOther}
}

// RejectReason names why a change was rejected, from a Rejection's Err (or the error
// Write wraps it in). Any other error, nil included, is ReasonOther.
func RejectReason(err error) string {
	var r *rejectError
	switch {
	case errors.As(err, &r):
		return r.reason
	case errors.Is(err, ErrMalformed):
		return ReasonMalformed
	}
	return ReasonOther
}

// rejectError tags a validity error with its reason; its text is the error's own.
type rejectError struct {
	reason string
	err    error
}

func (e *rejectError) Error() string { return e.err.Error() }
func (e *rejectError) Unwrap() error { return e.err }

// because tags err, which is nil, wraps ErrInvalid or is an admission refusal (Admit), with reason.
func because(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &rejectError{reason: reason, err: err}
}
