package peering

import (
	"testing"
	"time"
)

// testBudget: 1000 bytes at once, 100 bytes/s sustained, 3 strikes in 10 s, 5 s penalty.
func testBudget() *Budget {
	return NewBudget(BudgetConfig{BytesPerSecond: 100, BurstBytes: 1000, Strikes: 3, Window: 10 * time.Second, Penalty: 5 * time.Second})
}

func TestBudgetBurst(t *testing.T) {
	b := testBudget()
	for _, n := range []int{400, 600} {
		if !b.Allow("a", n, at(0)) {
			t.Fatalf("Allow(%d) within the 1000-byte burst refused", n)
		}
	}
	if b.Refused("a", at(0)) {
		t.Fatal("Refused after spending exactly the burst")
	}
	if b.Allow("a", 1, at(0)) {
		t.Fatal("Allow(1) past the burst accepted")
	}
	if !b.Refused("a", at(0)) {
		t.Fatal("not Refused after going over the burst")
	}
	if b2 := testBudget(); b2.Allow("fresh", 1001, at(0)) {
		t.Fatal("a fresh peer may send 1001 bytes with a 1000-byte burst")
	}
}

func TestBudgetPenaltyAndRefill(t *testing.T) {
	b := testBudget()
	if !b.Allow("a", 1000, at(0)) || b.Allow("a", 5000, at(0)) {
		t.Fatal("setup: burst accepted then 5000 bytes refused expected")
	}
	// the refused 5000 bytes are not charged: the bucket is empty, not in debt.
	// refused for the whole Penalty, whatever the size, though tokens refill meanwhile
	for _, d := range []time.Duration{time.Second, 4 * time.Second, 5*time.Second - time.Nanosecond} {
		if !b.Refused("a", at(d)) {
			t.Errorf("at %v: not Refused within the 5 s penalty", d)
		}
		if b.Allow("a", 1, at(d)) {
			t.Errorf("at %v: Allow(1) accepted within the 5 s penalty", d)
		}
	}
	if b.Refused("a", at(5*time.Second)) {
		t.Fatal("still Refused when the penalty is over")
	}
	// 5 s at 100 bytes/s refilled about 500 bytes: 490 pass, 20 more do not
	if !b.Allow("a", 490, at(5*time.Second)) {
		t.Fatal("after the penalty: Allow(490) refused, want about 500 bytes refilled")
	}
	if b.Allow("a", 20, at(5*time.Second)) {
		t.Fatal("after the penalty: 510 bytes accepted, want about 500 refilled (100 bytes/s for 5 s)")
	}
	// a second offence is refused for Penalty from then
	if !b.Refused("a", at(10*time.Second-time.Nanosecond)) || b.Refused("a", at(10*time.Second)) {
		t.Fatal("second penalty: want refused until 10 s, not after")
	}
}

func TestBudgetRefillCapped(t *testing.T) {
	b := testBudget()
	if !b.Allow("a", 1000, at(0)) {
		t.Fatal("burst refused")
	}
	if !b.Allow("a", 300, at(3*time.Second)) {
		t.Fatal("300 bytes after 3 s at 100 bytes/s refused")
	}
	if b.Allow("a", 50, at(3*time.Second)) {
		t.Fatal("350 bytes accepted after 3 s at 100 bytes/s")
	}
	// a quiet hour refills the bucket to the burst, no further
	if !b.Allow("a", 1000, at(time.Hour)) {
		t.Fatal("a full burst refused after a quiet hour")
	}
	if b.Allow("a", 1, at(time.Hour)) {
		t.Fatal("more than the burst accepted after a quiet hour: tokens are not capped at BurstBytes")
	}
}

func TestBudgetStrikes(t *testing.T) {
	b := testBudget()
	for i := range 3 {
		if b.Strike("a", at(time.Duration(i)*time.Second)) {
			t.Fatalf("strike %d of 3 allowed within the window: refused", i+1)
		}
	}
	if b.Refused("a", at(3*time.Second)) || !b.Allow("a", 10, at(3*time.Second)) {
		t.Fatal("3 strikes of 3 allowed: peer refused")
	}
	if !b.Strike("a", at(3*time.Second)) {
		t.Fatal("4th strike within 10 s: not refused")
	}
	if !b.Refused("a", at(8*time.Second-time.Nanosecond)) || b.Allow("a", 10, at(8*time.Second-time.Nanosecond)) {
		t.Fatal("striking peer not refused for the 5 s penalty")
	}
	if b.Refused("a", at(8*time.Second)) || !b.Allow("a", 10, at(8*time.Second)) {
		t.Fatal("striking peer still refused after the penalty")
	}
	// the penalty wiped the strikes: 3 more are tolerated again
	for i := range 3 {
		if b.Strike("a", at(9*time.Second)) {
			t.Fatalf("strike %d after the penalty: refused, want the count reset", i+1)
		}
	}
	if !b.Strike("a", at(9*time.Second)) {
		t.Fatal("4th strike after the penalty: not refused")
	}
}

func TestBudgetStrikesForgotten(t *testing.T) {
	b := testBudget()
	for _, d := range []time.Duration{0, time.Second, 2 * time.Second} {
		if b.Strike("a", at(d)) {
			t.Fatalf("strike at %v refused", d)
		}
	}
	// at 10.5 s the strike at 0 is older than the 10 s window: 3 within it
	if b.Strike("a", at(10500*time.Millisecond)) {
		t.Fatal("strike at 10.5 s refused: the strike at 0 s should be forgotten")
	}
	// at 11.5 s the strike at 1 s is gone too: 2 s, 10.5 s and this one
	if b.Strike("a", at(11500*time.Millisecond)) {
		t.Fatal("strike at 11.5 s refused: the strike at 1 s should be forgotten")
	}
	if !b.Strike("a", at(11500*time.Millisecond)) {
		t.Fatal("4 strikes within 10 s (2, 10.5, 11.5, 11.5): not refused")
	}
}

func TestBudgetRefused(t *testing.T) {
	b := testBudget()
	if b.Refused("nobody", at(0)) {
		t.Fatal("an unknown peer is Refused")
	}
	b.Allow("a", 10, at(0))
	if b.Refused("a", at(0)) {
		t.Fatal("a peer within budget is Refused")
	}
	b.Allow("a", 2000, at(0))
	if !b.Refused("a", at(0)) || !b.Refused("a", at(time.Second)) {
		t.Fatal("an over-budget peer is not Refused")
	}
	if b.Refused("a", at(time.Hour)) {
		t.Fatal("Refused an hour after a 5 s penalty")
	}
}

func TestBudgetPeersIndependent(t *testing.T) {
	b := testBudget()
	if !b.Allow("a", 1000, at(0)) || b.Allow("a", 1, at(0)) {
		t.Fatal("setup: a should be over budget")
	}
	if b.Refused("b", at(0)) || !b.Allow("b", 1000, at(0)) {
		t.Fatal("b pays for a's traffic")
	}
	for range 4 {
		b.Strike("c", at(0))
	}
	if !b.Refused("c", at(0)) {
		t.Fatal("setup: c should be refused for striking")
	}
	if b.Strike("d", at(0)) || b.Refused("d", at(0)) || b.Refused("b", at(0)) {
		t.Fatal("c's strikes count against another peer")
	}
	if !b.Refused("a", at(0)) {
		t.Fatal("a no longer refused after other peers' activity")
	}
}

func TestBudgetDefaults(t *testing.T) {
	d := DefaultBudgetConfig()
	b := NewBudget(BudgetConfig{})
	if !b.Allow("a", int(d.BurstBytes), at(0)) || b.Allow("a", 1, at(0)) {
		t.Fatalf("zero config: want a burst of exactly %v bytes", d.BurstBytes)
	}
	for i := range d.Strikes {
		if b.Strike("b", at(0)) {
			t.Fatalf("zero config: strike %d of %d refused", i+1, d.Strikes)
		}
	}
	if !b.Strike("b", at(0)) {
		t.Fatalf("zero config: strike %d not refused", d.Strikes+1)
	}
	if !b.Refused("b", at(d.Penalty-time.Nanosecond)) || b.Refused("b", at(d.Penalty)) {
		t.Fatalf("zero config: want a penalty of %v", d.Penalty)
	}
}
