package main

import (
	"strings"
	"testing"

	"atoll/site"
)

func TestBodyLine(t *testing.T) {
	for _, c := range []struct {
		obj  map[string]site.ObjectField
		want string
	}{
		{map[string]site.ObjectField{"kind": {Value: "ConfigMap"}}, ""},
		{map[string]site.ObjectField{"template": {Value: "{}"}}, "served in full"},
		{map[string]site.ObjectField{"template": {Value: "{}", Withheld: site.WithheldSecret}}, "Secret values redacted"},
		{map[string]site.ObjectField{"template": {Value: "{}"}, "overrides": {Withheld: site.WithheldSecret}}, "Secret values redacted"},
		{map[string]site.ObjectField{"template": {Withheld: site.WithheldSealed, Hash: "0123456789abcdef0123"}}, "held at this site (hash 0123456789abcdef)"},
		{map[string]site.ObjectField{"template": {Withheld: site.WithheldSealed, Redacted: true}}, "header only"},
		{map[string]site.ObjectField{"template": {Withheld: site.WithheldOpaque}}, "not served"},
	} {
		if got := bodyLine(c.obj); c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("bodyLine(%v) = %q, want %q", c.obj, got, c.want)
		}
	}
}
