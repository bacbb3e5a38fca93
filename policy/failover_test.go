package policy

import (
	"strings"
	"testing"

	"atoll/scheduler"
)

// TestApplicationFailoverPolicy: spec.failover.application is read into the placement
// with Karmada's names and defaults, and refused below FailoverLevel with the level and
// how to reach it.
func TestApplicationFailoverPolicy(t *testing.T) {
	ws, _ := resolveOK(t, deployWeb, pp("p", selByName,
		"  failover:\n    application:\n      decisionConditions: {tolerationSeconds: 30}\n      purgeMode: Graciously\n      gracePeriodSeconds: 120\n"))
	a := ws[0].Policy.Failover.Application
	if a.Toleration().Seconds() != 30 || a.Purge() != scheduler.PurgeGracefully || a.GracePeriod().Seconds() != 120 {
		t.Fatalf("failover %+v: want 30 s, Gracefully, 120 s", a)
	}
	err := CheckDivide(ws, FailoverLevel-1)
	if err == nil || !strings.Contains(err.Error(), "spec.failover.application, which needs format level 4 (atoll charter propose --format 4); the charter's is 3") {
		t.Fatalf("below the level: %v", err)
	}
	if err := CheckDivide(ws, FailoverLevel); err != nil {
		t.Fatal(err)
	}
	ws, _ = resolveOK(t, deployWeb, pp("p", selByName, "  failover:\n    application:\n      decisionConditions: {}\n"))
	if a := ws[0].Policy.Failover.Application; a.Toleration() != scheduler.DefaultFailoverToleration || a.Purge() != scheduler.PurgeGracefully || a.GracePeriod() != scheduler.DefaultGracePeriod {
		t.Errorf("defaults %+v: want Karmada's 300 s, Gracefully, 600 s", a)
	}
}
