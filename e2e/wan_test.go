package e2e

import "testing"

// countFalse reads the lines a site logs at debug level, memberlist's inside msg.
func TestCountFalse(t *testing.T) {
	log := []byte(`time=2026-12-07T08:58:31.858Z level=DEBUG msg="[WARN] memberlist: Refuting a suspect message (from: s02)" site=s00 component=memberlist
time=2026-12-07T08:58:32.502Z level=DEBUG msg="[INFO] memberlist: Suspect s01 has failed, no acks received" site=s00 component=memberlist
time=2026-12-07T08:58:32.900Z level=DEBUG msg="[INFO] memberlist: Suspect s03 has failed, no acks received" site=s00 component=memberlist
time=2026-12-07T08:58:33.108Z level=DEBUG msg="[INFO] memberlist: Marking s01 as failed, suspect timeout reached (1 peer confirmations)" site=s00 component=memberlist
time=2026-12-07T08:58:33.108Z level=INFO msg="peer gone" site=s00 peer=s01
time=2026-12-07T08:58:34.000Z level=INFO msg="peer alive" site=s00 peer=s01 addr=10.231.0.2:7946
`)
	got := countFalse(log)
	if want := (falseCounts{suspicions: 2, deaths: 1, takeovers: 1}); got != want {
		t.Fatalf("countFalse: %+v, want %+v", got, want)
	}
}
