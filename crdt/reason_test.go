package crdt

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestRejectReason drives real rejections through a replica and checks the reason each
// is given, and that tagging leaves the error's text and ErrInvalid alone.
func TestRejectReason(t *testing.T) {
	f := newFed(t)
	a := f.replica(t, "")
	good := mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", "1"))
	forged := good.Encode()
	forged[len(forged)-10] ^= 1 // inside the signature
	forgedEnv, err := DecodeEnvelope(forged)
	if err != nil {
		t.Fatal(err)
	}
	// signed builds a change on top of deps (the genesis if none) and signs it as author.
	signed := func(author *Signer, lamport uint64, deps []Hash, ops ...Op) []byte {
		t.Helper()
		if deps == nil {
			deps = []Hash{f.genesis.ID}
		}
		env, err := Sign(&Change{Deps: deps, Lamport: lamport, Ops: ops}, nil, author)
		if err != nil {
			t.Fatal(err)
		}
		return env.Encode()
	}
	site := func(key string) Op { return set(KindSite, key, "version", "2") }
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"truncated", forged[:len(forged)/2], ReasonMalformed},
		{"garbage", []byte("not an envelope"), ReasonMalformed},
		{"flipped signature byte", forged, ReasonSignature},
		{"unknown field", signed(f.sites["eu-west"], 2, nil, set(KindSite, "eu-west", "no such field!", "x")), ReasonStructure},
		{"lamport time skips", signed(f.sites["eu-west"], 5, nil, site("eu-west")), ReasonStructure},
		{"another site's object", signed(f.sites["eu-west"], 2, nil, site("us-east")), ReasonAuthority},
		{"workload outside the namespaces", signed(f.ops["shopdev"], 2, nil, set(KindWorkload, "bank/web", "replicas", "1")), ReasonAuthority},
		{"replicas above the limit", signed(f.ops["root"], 2, nil, set(KindWorkload, "shop/web", "replicas", "100001")), ReasonLimit},
		{"charter change by a site", signed(f.sites["eu-west"], 2, nil, CharterSpec{Threshold: 1}.Ops()...), ReasonAuthority},
		{"on a rejected change", signed(f.sites["eu-west"], 3, []Hash{forgedEnv.ID}, site("eu-west")), ReasonDependency},
		{"a second genesis", signed(f.sites["eu-west"], 1, []Hash{}, site("eu-west")), ReasonDependency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.replica(t, "")
			if tc.want == ReasonDependency {
				r.Receive(forged)
			}
			res := r.Receive(tc.raw)
			if len(res.Rejected) != 1 {
				t.Fatalf("not rejected: %+v", res)
			}
			err := res.Rejected[0].Err
			if got := RejectReason(err); got != tc.want {
				t.Errorf("RejectReason(%v) = %q, want %q", err, got, tc.want)
			}
			if got := RejectReason(fmt.Errorf("%w: %w", ErrRejected, err)); got != tc.want {
				t.Errorf("wrapped as Write does: %q, want %q", got, tc.want)
			}
			if tc.want != ReasonMalformed && !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			if !slices.Contains(RejectReasons(), tc.want) {
				t.Errorf("%q missing from RejectReasons", tc.want)
			}
		})
	}
	for _, err := range []error{nil, errors.New("disk full"), ErrSync} {
		if got := RejectReason(err); got != ReasonOther {
			t.Errorf("RejectReason(%v) = %q, want %q", err, got, ReasonOther)
		}
	}
	if e := because(ReasonStructure, invalid("x")); e.Error() != "invalid change: x" {
		t.Errorf("tagging changed the text: %q", e.Error())
	}
}
