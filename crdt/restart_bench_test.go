package crdt_test

import (
	"bytes"
	"crypto/sha256"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site/store"
)

// BenchmarkRestart opens a data file (site/store, sealed) of 10,000 workloads with a 1 KiB
// template each, overwritten every round for 10 rounds and acknowledged by every site, and
// rebuilds the replica from it: every change whole (store.Load), or skeletons in place of
// the compacted ones (store.LoadLive). It reports the time per change held.
func BenchmarkRestart(b *testing.B) {
	const workloads, rounds = 10_000, 10
	admins := []*crdt.Signer{signer(b, "admin a"), signer(b, "admin b")}
	sites := map[string]*crdt.Signer{"eu": signer(b, "site eu"), "us": signer(b, "site us")}
	root := signer(b, "operator root")
	spec := crdt.CharterSpec{Name: "bench", Threshold: 2,
		Admins:    []crdt.Member{{Name: "a", Key: admins[0].Public()}, {Name: "b", Key: admins[1].Public()}},
		Sites:     []crdt.SiteInfo{{Name: "eu", Key: sites["eu"].Public(), Region: "r", Jurisdiction: "EU"}, {Name: "us", Key: sites["us"].Public(), Region: "r", Jurisdiction: "US"}},
		Operators: []crdt.OperatorInfo{{Name: "root", Key: root.Public(), Namespaces: []string{"*"}}}}
	genesis, err := crdt.NewGenesis(spec, admins[0], admins[1])
	if err != nil {
		b.Fatal(err)
	}
	key, err := store.NewDataKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "site.db")
	st, err := store.Open(path, store.Options{Key: key, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	archive := st
	cfg := crdt.Config{Genesis: genesis.Encode(), Archive: func(id crdt.Hash) (*crdt.Envelope, bool) {
		data, ok, err := archive.Get(id)
		if err != nil || !ok {
			return nil, false
		}
		env, err := crdt.DecodeEnvelope(data)
		return env, err == nil
	}}
	r, err := crdt.NewReplica(cfg)
	if err != nil {
		b.Fatal(err)
	}
	template := strings.Repeat("x", 1024)
	write := func(s *crdt.Signer, ops ...crdt.Op) {
		_, res, err := r.Write(s, ops, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]store.Record, len(res.Stored))
		for i, e := range res.Stored {
			recs[i] = store.Record{ID: e.ID, Data: e.Encode()}
		}
		if _, err := st.Save(recs); err != nil {
			b.Fatal(err)
		}
		var sks []store.Skeleton
		for _, sk := range r.TakeSkeletons() {
			sks = append(sks, store.Skeleton{ID: sk.ID, Data: sk.Data})
		}
		if err := st.PutSkeletons(sks); err != nil {
			b.Fatal(err)
		}
	}
	for round := range rounds {
		for i := range workloads {
			k := "shop/w" + strconv.Itoa(i)
			write(root, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: k, Field: "replicas", Value: []byte(strconv.Itoa(round + 1))},
				crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: k, Field: "template", Value: []byte(template + strconv.Itoa(round))})
		}
		for name, s := range sites {
			write(s, crdt.AckOps(name, "v"+strconv.Itoa(round))...)
		}
	}
	held, skel := r.Len(), r.SkeletonLen()
	for _, mode := range []string{"whole", "skeletons"} {
		b.Run(mode, func(b *testing.B) {
			var took time.Duration
			for b.Loop() {
				start := time.Now()
				back, err := crdt.NewReplica(cfg)
				if err != nil {
					b.Fatal(err)
				}
				restore := func(rec store.Record) error {
					if rec.Skeleton {
						return back.RestoreSkeleton(rec.Data)
					}
					return back.Restore(rec.Data)
				}
				if mode == "whole" {
					err = st.Load(restore)
				} else {
					err = st.LoadLive(restore)
				}
				if err != nil {
					b.Fatal(err)
				}
				took = time.Since(start)
				if back.Digest() != r.Digest() || back.Len() != held {
					b.Fatalf("restored %d changes, digest %s; want %d, %s", back.Len(), back.Digest(), held, r.Digest())
				}
			}
			b.ReportMetric(float64(took.Microseconds())/1000, "ms/restart")
			b.ReportMetric(float64(took.Nanoseconds())/float64(held), "ns/change")
			b.ReportMetric(float64(held), "changes")
			b.ReportMetric(float64(skel), "skeletons")
		})
	}
}

func signer(_ *testing.B, name string) *crdt.Signer {
	seed := sha256.Sum256([]byte("atoll bench key " + name))
	return crdt.SignerFromSeed(seed[:])
}
