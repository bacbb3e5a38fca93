package main

import (
	"strings"
	"testing"
)

// TestRetaint: taint changes as kubectl taint makes them, one taint per key.
func TestRetaint(t *testing.T) {
	cur := []string{"gpu=true:NoSchedule"}
	for _, c := range []struct {
		changes   []string
		overwrite bool
		want, err string
	}{
		{[]string{"maint=now:NoExecute"}, false, "gpu=true:NoSchedule maint=now:NoExecute", ""},
		{[]string{"gpu-"}, false, "", ""},
		{[]string{"gpu:NoSchedule-"}, false, "", ""},
		{[]string{"gpu:NoExecute-"}, false, "", `the cluster has no taint gpu:NoExecute`},
		{[]string{"gpu=false:NoExecute"}, false, "", `already has gpu=true:NoSchedule (--overwrite replaces it)`},
		{[]string{"gpu=false:NoExecute"}, true, "gpu=false:NoExecute", ""},
		{[]string{"gpu=true:Sometimes"}, false, "", `want key=value:Effect or key:Effect`},
		{[]string{"gpu-", "drain:NoSchedule"}, false, "drain:NoSchedule", ""},
	} {
		got, err := retaint(cur, c.changes, c.overwrite)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: %v, want an error containing %q", c.changes, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%v: %v %v, want %q", c.changes, got, err, c.want)
		}
	}
	if cur[0] != "gpu=true:NoSchedule" {
		t.Errorf("retaint changed its input: %v", cur)
	}
}
