package transport

import (
	"io"
	"log"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// newMember runs memberlist over a new transport for site name.
func newMember(t *testing.T, ch *charter, name string, seed byte) (*memberlist.Memberlist, *Transport) {
	t.Helper()
	tr := newSite(t, ch, name, testKey(seed), nil)
	conf := memberlist.DefaultLocalConfig()
	conf.Name = name
	conf.Transport = tr
	conf.UDPBufferSize = 1400 - PacketOverhead
	conf.ProbeInterval = 100 * time.Millisecond
	conf.ProbeTimeout = 50 * time.Millisecond
	conf.GossipInterval = 20 * time.Millisecond
	conf.PushPullInterval = 500 * time.Millisecond
	conf.SuspicionMult = 2
	conf.Logger = log.New(io.Discard, "", 0)
	if os.Getenv("ATOLL_TEST_DEBUG") != "" {
		conf.Logger = log.New(t.Output(), name+" ", log.Lmicroseconds)
	}
	m, err := memberlist.Create(conf)
	if err != nil {
		t.Fatalf("memberlist.Create(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m, tr
}

func TestMemberlistCluster(t *testing.T) {
	ch := newCharter()
	names := []string{"s0", "s1", "s2"}
	for i, n := range names {
		ch.add(n, testKey(byte(10+i)))
	}
	var ms []*memberlist.Memberlist
	var trs []*Transport
	for i, n := range names {
		m, tr := newMember(t, ch, n, byte(10+i))
		ms, trs = append(ms, m), append(trs, tr)
	}
	// One join by address alone, one naming the site.
	if _, err := ms[1].Join([]string{addrOf(trs[0])}); err != nil {
		t.Fatalf("s1 join: %v", err)
	}
	if _, err := ms[2].Join([]string{"s0/" + addrOf(trs[0])}); err != nil {
		t.Fatalf("s2 join: %v", err)
	}
	waitFor(t, "every member to see 3 alive", func() bool {
		for _, m := range ms {
			if m.NumMembers() != 3 {
				return false
			}
		}
		return true
	})
	for i, tr := range trs {
		total, per := tr.Stats()
		if total.Streams == 0 || len(per) == 0 {
			t.Errorf("%s stats: total %+v, peers %v", names[i], total, per)
		}
	}

	// A site that joins with a key outside the charter never becomes a
	// member: its join push-pull is refused.
	outsiderView := newCharter()
	for i, n := range names {
		outsiderView.add(n, testKey(byte(10+i)))
	}
	outsiderView.add("x", testKey(99))
	xm, _ := newMember(t, outsiderView, "x", 99)
	if _, err := xm.Join([]string{addrOf(trs[0])}); err == nil {
		t.Error("a site outside the charter joined")
	}
	for i, m := range ms {
		if n := m.NumMembers(); n != 3 {
			t.Errorf("%s sees %d members after the outsider's attempt", names[i], n)
		}
	}

	// Cut s0 and s2 apart, both ways: SWIM's indirect probes through s1
	// keep each alive in the other's view. Wait until each has refused
	// plenty of traffic to the other (probes, gossip) before looking.
	trs[0].Block("s2")
	trs[2].Block("s0")
	waitFor(t, "s0 and s2 to refuse traffic to each other", func() bool {
		_, p0 := trs[0].Stats()
		_, p2 := trs[2].Stats()
		return p0["s2"].Refused >= 10 && p2["s0"].Refused >= 10
	})
	for i, m := range ms {
		if n := m.NumMembers(); n != 3 {
			t.Errorf("%s sees %d members while s0 and s2 are cut apart, want 3", names[i], n)
		}
	}
	trs[0].Unblock()
	trs[2].Unblock()

	// A site that stops is seen failed by the others.
	if err := ms[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s0 and s1 to see s2 gone", func() bool {
		return ms[0].NumMembers() == 2 && ms[1].NumMembers() == 2
	})
	for _, m := range ms[:2] {
		for _, n := range m.Members() {
			if n.Name == "s2" {
				t.Errorf("%s still lists s2 as alive", m.LocalNode().Name)
			}
		}
	}
}
