package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// pointerTokens splits a JSON pointer (RFC 6901, "/a/b~1c/0") into unescaped tokens.
func pointerTokens(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("%q is not a JSON pointer: it must start with /", p)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

// lookup returns the value at the tokens of a pointer in a JSON document.
func lookup(doc any, toks []string) (any, bool) {
	for _, t := range toks {
		switch d := doc.(type) {
		case map[string]any:
			v, ok := d[t]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(d) || (len(t) > 1 && t[0] == '0') {
				return nil, false
			}
			doc = d[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// set replaces the value at the tokens of a pointer, which must exist.
func set(doc any, toks []string, v any) bool {
	if len(toks) == 0 {
		return false
	}
	parent, ok := lookup(doc, toks[:len(toks)-1])
	if !ok {
		return false
	}
	last := toks[len(toks)-1]
	switch d := parent.(type) {
	case map[string]any:
		if _, ok := d[last]; ok {
			d[last] = v
			return true
		}
	case []any:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(d) {
			d[i] = v
			return true
		}
	}
	return false
}
