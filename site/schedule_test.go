package site

import "testing"

// TestSplitStatus: a status key is cut into its workload, site and cluster; anything
// else of the wrong shape is refused, not misread.
func TestSplitStatus(t *testing.T) {
	for _, tc := range []struct {
		key, wk, site, cluster string
		ok                     bool
	}{
		{"shop/web/eu-west/c0", "shop/web", "eu-west", "c0", true},
		{"shop/web/eu-west", "", "", "", false},
		{"shop/web/eu-west/c0/x", "", "", "", false},
		{"shop", "", "", "", false},
	} {
		wk, site, cluster, ok := splitStatus(tc.key)
		if wk != tc.wk || site != tc.site || cluster != tc.cluster || ok != tc.ok {
			t.Errorf("splitStatus(%q) = %q %q %q %t, want %q %q %q %t", tc.key, wk, site, cluster, ok, tc.wk, tc.site, tc.cluster, tc.ok)
		}
	}
}
