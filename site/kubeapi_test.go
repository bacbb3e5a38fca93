package site

import (
	"slices"
	"testing"
)

// TestIntersectGrants: a user of a site's Kubernetes API is granted only what both its
// own charter grant and the API's operator have.
func TestIntersectGrants(t *testing.T) {
	for _, tc := range []struct {
		user, api, want []string
	}{
		{[]string{"*"}, []string{"*"}, []string{"*"}},
		{[]string{"*"}, []string{"shop"}, []string{"shop"}},
		{[]string{"bank", "shop"}, []string{"*"}, []string{"bank", "shop"}},
		{[]string{"bank", "shop"}, []string{"shop"}, []string{"shop"}},
		{[]string{"bank"}, []string{"shop"}, nil},
		{[]string{"bank"}, nil, nil}, // the API's operator is gone from the charter
		{nil, []string{"*"}, nil},
	} {
		if got := intersectGrants(tc.user, tc.api); !slices.Equal(got, tc.want) {
			t.Errorf("intersectGrants(%q, %q) = %q, want %q", tc.user, tc.api, got, tc.want)
		}
	}
}
