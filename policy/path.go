package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// fieldPath locates a field inside one object: each element is a map key (string) or a
// list index (int). It renders as "spec.placement.spreadConstraints[1].maxGroups".
type fieldPath []any

func (p fieldPath) key(k string) fieldPath { return append(p[:len(p):len(p)], k) }
func (p fieldPath) index(i int) fieldPath  { return append(p[:len(p):len(p)], i) }

func (p fieldPath) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(e) + "]")
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		}
	}
	return b.String()
}

// pattern renders the path with every index as "[]", to look fields up in tables.
func (p fieldPath) pattern() string {
	q := make(fieldPath, len(p))
	for i, e := range p {
		if _, ok := e.(int); ok {
			e = -1
		}
		q[i] = e
	}
	return strings.ReplaceAll(q.String(), "[-1]", "[]")
}

// fieldError is a problem with one field of an object. The object's file and line (the
// field's line when the YAML node tree is known) are added when it is reported.
type fieldError struct {
	path fieldPath
	msg  string // the whole message, path included
}

func (e *fieldError) Error() string { return e.msg }

// errAt reports a problem with the field at p: "<path>: <message>".
func errAt(p fieldPath, format string, args ...any) *fieldError {
	msg := fmt.Sprintf(format, args...)
	if len(p) > 0 {
		msg = p.String() + ": " + msg
	}
	return &fieldError{path: p, msg: msg}
}
