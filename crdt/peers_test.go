package crdt

import (
	"testing"
)

// Two concurrent amendments by quorums nobody revoked: one removes eu-north, the other
// rotates its key. Whatever the merged charter says of eu-north, it is no peer and gets
// no body until an amendment built on both; a concurrent change of another field keeps
// a rotated site a peer under its new key; branches that disagree on a site's
// jurisdiction give it no body.
func TestPeerCharterIntersectsBranches(t *testing.T) {
	f := newFed(t)
	body := []byte("eu only")
	sealed := func(r *Replica) *Envelope {
		env, _, err := r.Write(f.ops["root"], []Op{set(KindWorkload, "bank/vault", "bound", "EU"), SealOp(KindWorkload, "bank/vault", "template", body)}, [][]byte{body}, []string{"EU"})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	amend := func(r *Replica, ops ...Op) *Envelope {
		env, _, err := r.Write(f.admins[0], ops, nil, nil, f.admins[1])
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	gets := func(r *Replica, id Hash, k PubKey) bool {
		raw, _ := r.EnvelopeFor(id, k)
		env, err := DecodeEnvelope(raw)
		return err == nil && len(env.Bodies) > 0
	}
	next := key("eu-north next")

	t.Run("removed and rotated", func(t *testing.T) {
		a, b := f.replica(t, "eu-west"), f.replica(t, "eu-west")
		secret := sealed(a)
		deliver(t, []*Envelope{secret}, b)
		removal := amend(a, Op{Type: OpDelete, Kind: KindCharter, Field: "site/eu-north/key"},
			Op{Type: OpDelete, Kind: KindCharter, Field: "site/eu-north/region"}, Op{Type: OpDelete, Kind: KindCharter, Field: "site/eu-north/jurisdiction"})
		rotation := amend(b, set(KindCharter, "", "site/eu-north/key", string(next.pub[:])))
		deliver(t, []*Envelope{rotation}, a)
		deliver(t, []*Envelope{removal}, b)
		replicasAgree(t, a, b)
		for _, k := range []PubKey{f.sites["eu-north"].Public(), next.Public()} {
			if _, ok := a.PeerCharter().Sites[k]; ok || gets(a, secret.ID, k) {
				t.Fatalf("eu-north (%s) is a peer or gets the body while the branches disagree", k)
			}
		}
		if !gets(a, secret.ID, f.sites["eu-west"].Public()) {
			t.Fatal("eu-west, in every branch, does not get the body")
		}
		// An amendment on both ends the fork: the charter in force decides again.
		amend(a, set(KindCharter, "", "site/eu-west/region", "eu-west-2"))
		if a.PeerCharter() != a.Charter() {
			t.Fatal("after an amendment on both branches, the peer charter is not the charter in force")
		}
	})

	t.Run("rotated while another field changed", func(t *testing.T) {
		a, b := f.replica(t, "eu-west"), f.replica(t, "eu-west")
		secret := sealed(a)
		deliver(t, []*Envelope{secret}, b)
		region := amend(a, set(KindCharter, "", "site/eu-north/region", "eu-north-2"))
		rotation := amend(b, set(KindCharter, "", "site/eu-north/key", string(next.pub[:])))
		deliver(t, []*Envelope{rotation}, a)
		deliver(t, []*Envelope{region}, b)
		if _, ok := a.PeerCharter().Sites[next.Public()]; !ok || !gets(a, secret.ID, next.Public()) {
			t.Fatal("the rotated site is not a peer under its new key")
		}
		if gets(a, secret.ID, f.sites["eu-north"].Public()) {
			t.Fatal("the rotated-out key gets the body")
		}
	})

	t.Run("jurisdictions disagree", func(t *testing.T) {
		a, b := f.replica(t, "eu-west"), f.replica(t, "eu-west")
		secret := sealed(a)
		deliver(t, []*Envelope{secret}, b)
		us := amend(a, set(KindCharter, "", "site/eu-north/jurisdiction", "US"))
		eu := amend(b, set(KindCharter, "", "site/eu-north/region", "eu-north-3"), set(KindCharter, "", "site/eu-north/jurisdiction", "EU"))
		deliver(t, []*Envelope{eu}, a)
		deliver(t, []*Envelope{us}, b)
		replicasAgree(t, a, b)
		if gets(a, secret.ID, f.sites["eu-north"].Public()) || gets(b, secret.ID, f.sites["eu-north"].Public()) {
			t.Fatal("a site the branches place in different jurisdictions gets an EU body")
		}
	})
}
