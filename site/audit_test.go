package site

import (
	"testing"

	"atoll/scheduler"
)

func TestAuditBreach(t *testing.T) {
	for _, tt := range []struct {
		r    AuditRecord
		want bool
	}{
		{AuditRecord{Type: "sent", Jurisdiction: "EU", Bound: []string{"EU"}}, false},
		{AuditRecord{Type: "sent", Jurisdiction: "US", Bound: []string{"EU"}}, true},
		{AuditRecord{Type: "ran", Jurisdiction: "CH", Bound: []string{"EU", "CH"}}, false},
		{AuditRecord{Type: "ran", Jurisdiction: "US", Bound: []string{"EU", "CH"}}, true},
		{AuditRecord{Type: "ran", Jurisdiction: "US"}, false},
		{AuditRecord{Type: "refused", Jurisdiction: "US", Bound: []string{"EU"}}, false},
	} {
		if got := tt.r.Breach(); got != tt.want {
			t.Errorf("%+v: Breach() = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestNamesThisSite(t *testing.T) {
	p := &schedPolicyFixture
	if !names(p, "s01") || names(p, "s02") {
		t.Errorf("names: the placement names s01's cluster only")
	}
}

var schedPolicyFixture = scheduler.Policy{Placement: scheduler.Placement{ClusterAffinities: []scheduler.ClusterAffinityTerm{
	{AffinityName: "a", ClusterAffinity: scheduler.ClusterAffinity{ClusterNames: []string{"c1", "s01/c2"}}}}}}
