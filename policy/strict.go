package policy

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// unsupported maps a Karmada field Atoll does not implement (a path pattern, indices as
// "[]") to the values that leave the feature off: those are accepted, since Atoll then
// behaves as Karmada would; any other value is refused.
type unsupported map[string][]any

var rawMessage = reflect.TypeFor[json.RawMessage]()

// checkFields checks a decoded value against the Go type it will be decoded into, the
// way a strict decoder would, but collects every problem with its path: unknown fields,
// Karmada fields Atoll does not implement, and values of the wrong JSON type. null is
// accepted anywhere, as absent.
func checkFields(v any, t reflect.Type, p fieldPath, skip unsupported, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || t == rawMessage {
		return
	}
	bad := func(want string) { *errs = append(*errs, errAt(p, "expected %s, found %s", want, kindOf(v))) }
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			bad("an object")
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			q := p.key(k)
			if ft, ok := fields[k]; ok {
				checkFields(m[k], ft, q, skip, errs)
				continue
			}
			if off, ok := skip[q.pattern()]; ok {
				if m[k] != nil && !slices.ContainsFunc(off, func(o any) bool { return reflect.DeepEqual(o, m[k]) }) {
					*errs = append(*errs, errAt(q, "not supported by Atoll"))
				}
				continue
			}
			*errs = append(*errs, &fieldError{path: q, msg: "unknown field " + strconv.Quote(q.String())})
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			bad("a list")
			return
		}
		for i, e := range l {
			checkFields(e, t.Elem(), p.index(i), skip, errs)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			bad("an object")
			return
		}
		for k, e := range m {
			checkFields(e, t.Elem(), p.key(k), skip, errs)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			bad("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			bad("a boolean")
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n, ok := v.(int64); !ok {
			bad("an integer")
		} else if reflect.Zero(t).OverflowInt(n) {
			*errs = append(*errs, errAt(p, "%d is out of range", n))
		}
	default:
		panic("policy: checkFields: no rule for type " + t.String())
	}
}

// jsonFields returns a struct's fields by JSON name, embedded untagged structs inlined
// as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, ft := range jsonFields(f.Type) {
				out[k] = ft
			}
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// decodeStrict checks m against the type of out (see checkFields) and, if it passes,
// decodes it into out.
func decodeStrict(m map[string]any, out any, skip unsupported) []error {
	var errs []error
	checkFields(m, reflect.TypeOf(out), nil, skip, &errs)
	if len(errs) > 0 {
		return errs
	}
	b, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		return []error{err} // checkFields let through what encoding/json refuses
	}
	return nil
}
