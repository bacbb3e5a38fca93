package netlab

import (
	"slices"
	"strings"
	"testing"
)

func TestCutAndHeal(t *testing.T) {
	l := newLab(t, "c", 3)
	startEcho(t, l)
	check(t, l, all(l, none)...)
	held := openConn(t, l, 0, 1)
	if got := held.echo(t, "before"); got != "ok" {
		t.Fatalf("held 0->1 before cut: %s", got)
	}

	if err := l.Cut(0, 1); err != nil {
		t.Fatal(err)
	}
	cut01 := func(from, to int) bool { return from+to == 1 }
	check(t, l, all(l, cut01)...)
	if got := held.echo(t, "during"); !strings.HasPrefix(got, "err") || !strings.Contains(got, "timeout") {
		t.Fatalf("held 0->1 after cut: %q, want a timeout", got)
	}
	if err := l.Cut(1, 0); err != nil { // the same pair again: a no-op
		t.Fatal(err)
	}

	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	check(t, l, all(l, none)...)
}

func TestPartition(t *testing.T) {
	l := newLab(t, "p", 3)
	startEcho(t, l)
	if err := l.Partition([]int{0}, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	check(t, l, all(l, func(from, to int) bool { return (from == 0) != (to == 0) })...)
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	check(t, l, all(l, none)...)
}

func TestBadArguments(t *testing.T) {
	l := newLab(t, "b", 2)
	for _, err := range []error{
		l.Cut(0, 0),
		l.Cut(0, 2),
		l.Cut(-1, 1),
		l.Partition([]int{0}, []int{0, 1}),
		l.Partition([]int{0}, []int{5}),
	} {
		if err == nil {
			t.Error("bad cut accepted")
		}
	}
	for _, bad := range []string{"", "a-b", "a/b", "a b", strings.Repeat("x", maxPrefix+1)} {
		if _, err := Create(bad, 1); err == nil {
			t.Errorf("Create(%q) accepted", bad)
		}
	}
	if _, err := Create(testPrefix("b"), 0); err == nil {
		t.Error("Create with 0 nodes accepted")
	}
}

func TestCreateReplacesLeftovers(t *testing.T) {
	if ok, reason := Available(); !ok {
		t.Skip(reason)
	}
	prefix := testPrefix("l")
	crashed, err := Create(prefix, 4) // never closed, like a crashed run's lab
	if err != nil {
		t.Fatal(err)
	}
	l, err := Create(prefix, 2)
	if err != nil {
		crashed.Close()
		t.Fatal(err)
	}
	if got := labNamespaces(t, prefix); !slices.Equal(got, []string{prefix + "-0", prefix + "-1", prefix + "-hub"}) {
		t.Errorf("namespaces after re-create: %v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := labNamespaces(t, prefix); len(got) != 0 {
		t.Errorf("namespaces after Close: %v", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Cut(0, 1); err == nil {
		t.Error("Cut on a closed lab accepted")
	}
}

// labNamespaces lists, sorted, the namespaces `ip netns list` shows for prefix.
func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	names, err := listNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix+"-") {
			got = append(got, n)
		}
	}
	slices.Sort(got)
	return got
}

func TestOwnedBy(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"atl1-0", true},
		{"atl1-17", true},
		{"atl1-hub", true},
		{"atl1-", false},
		{"atl12-0", false},
		{"atl1-0x", false},
		{"atl1-hubx", false},
		{"xatl1-0", false},
	} {
		if got := ownedBy("atl1", c.name); got != c.want {
			t.Errorf("ownedBy(atl1, %q) = %v, want %v", c.name, got, c.want)
		}
	}
}
