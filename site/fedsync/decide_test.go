package fedsync

import "testing"

// TestDecide tables the conflict rule between the API server and the replicated state.
func TestDecide(t *testing.T) {
	held := func(change string) Stored { return Stored{Exists: true, Change: change, Held: true} }
	api := func(rv, change string) API { return API{Exists: true, RV: rv, Change: change} }
	memo := func(change, rv string) Memo { return Memo{Known: true, Change: change, RV: rv} }
	cases := []struct {
		name string
		a    API
		s    Stored
		m    Memo
		want Action
	}{
		{"nothing anywhere", API{}, Stored{}, Memo{}, None},
		{"new in the state", API{}, held("c1"), Memo{}, Project},
		{"bound elsewhere, not projected", API{}, Stored{Exists: true, Change: "c1"}, Memo{}, None},
		{"deleted here since the sync", API{}, held("c1"), memo("c1", "5"), RemoveState},
		{"deleted here, but the state moved", API{}, held("c2"), memo("c1", "5"), Project},
		{"created here", api("5", ""), Stored{}, Memo{}, Write},
		{"removed from the state", api("5", "c1"), Stored{}, memo("c1", "5"), DeleteAPI},
		{"removed from the state, after a restart", api("5", "c1"), Stored{}, Memo{}, DeleteAPI},
		{"removed from the state, but edited here since", api("6", "c1"), Stored{}, memo("c1", "5"), Write},
		{"in sync", api("5", "c1"), held("c1"), memo("c1", "5"), None},
		{"the state moved", api("5", "c1"), held("c2"), memo("c1", "5"), Project},
		{"edited here", api("6", "c1"), held("c1"), memo("c1", "5"), Write},
		{"both moved: the edit here is the later write", api("6", "c1"), held("c2"), memo("c1", "5"), Write},
		{"after a restart, as projected", api("5", "c1"), held("c1"), Memo{}, None},
		{"after a restart, the state moved", api("5", "c1"), held("c2"), Memo{}, Project},
		{"a user's object of a name the state has", api("5", ""), held("c1"), Memo{}, Write},
		{"a user's write of a body bound elsewhere", api("5", ""), Stored{Exists: true, Change: "c1"}, Memo{}, Refuse},
		{"an edit of a body bound elsewhere", api("6", "c1"), Stored{Exists: true, Change: "c1"}, memo("c1", "5"), Refuse},
		{"a projection whose body is now bound elsewhere", api("5", "c1"), Stored{Exists: true, Change: "c2"}, memo("c1", "5"), DeleteAPI},
	}
	for _, tc := range cases {
		if got := Decide(tc.a, tc.s, tc.m); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
