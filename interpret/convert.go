package interpret

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// toLua converts a JSON value (as encoding/json decodes into any, or with int64s) to a
// Lua value of L: objects and lists become tables (lists indexed from 1).
func toLua(L *lua.LState, v any, depth int) (lua.LValue, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(x), nil
	case string:
		return lua.LString(x), nil
	case float64:
		return lua.LNumber(x), nil
	case int64:
		return lua.LNumber(x), nil
	case int:
		return lua.LNumber(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		return lua.LNumber(f), nil
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			lv, err := toLua(L, e, depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			lv, err := toLua(L, e, depth+1)
			if err != nil {
				return nil, err
			}
			t.Append(lv)
		}
		return t, nil
	}
	return nil, fmt.Errorf("a %T cannot be passed to a script", v)
}

// fromLua converts what a script returned to a JSON value, at path (for errors). A
// table with keys 1..n is a list, one with string keys an object; an empty table is a
// list where ref (the value at the same place in the script's input) is one, else an
// object. An integral number is an int64.
func fromLua(v lua.LValue, ref any, path string, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d", path, MaxDepth)
	}
	switch x := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case lua.LString:
		return string(x), nil
	case lua.LNumber:
		f := float64(x)
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return nil, fmt.Errorf("%s: %v is not a JSON number", path, f)
		case f == math.Trunc(f) && math.Abs(f) < 1<<53:
			return int64(f), nil
		}
		return f, nil
	case *lua.LTable:
		n := x.Len()
		var keys []string
		list, object := 0, 0
		var bad error
		x.ForEach(func(k, _ lua.LValue) {
			switch kk := k.(type) {
			case lua.LString:
				object++
				keys = append(keys, string(kk))
			case lua.LNumber:
				if i := int(kk); float64(i) == float64(kk) && i >= 1 && i <= n {
					list++
					return
				}
				bad = fmt.Errorf("%s: the key %v is neither a name nor an index 1..%d", path, kk, n)
			default:
				bad = fmt.Errorf("%s: a key of type %s", path, k.Type())
			}
		})
		switch {
		case bad != nil:
			return nil, bad
		case list > 0 && object > 0:
			return nil, fmt.Errorf("%s: a table both a list and an object", path)
		case list > 0 || (object == 0 && isList(ref)):
			refs, _ := ref.([]any)
			out := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				var r any
				if i <= len(refs) {
					r = refs[i-1]
				}
				e, err := fromLua(x.RawGetInt(i), r, path+"["+strconv.Itoa(i-1)+"]", depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, e)
			}
			return out, nil
		}
		refs, _ := ref.(map[string]any)
		slices.Sort(keys)
		out := make(map[string]any, len(keys))
		for _, k := range keys {
			e, err := fromLua(x.RawGetString(k), refs[k], path+"."+k, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: a %s cannot be returned", path, v.Type())
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}
