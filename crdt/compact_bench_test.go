package crdt

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkCompaction: 10,000 workloads (a 1 KiB template each), each written once then
// overwritten every round,
// every site acknowledging after each round. It holds the same changes with and without
// an archive (compact.go) and reports the live heap per change held: what compaction
// takes out of memory. The changes are signed before the measure starts, and the
// archive reads them from there, as a site reads its data file.
func BenchmarkCompaction(b *testing.B) {
	const workloads = 10_000
	template := strings.Repeat("x", 1024) // a small Deployment manifest
	for _, rounds := range []int{2, 5} {
		b.Run(fmt.Sprintf("rounds=%d", rounds), func(b *testing.B) {
			f := newFed(b)
			w := f.replica(b, "")
			var raws [][]byte
			for round := range rounds {
				for i := range workloads {
					raws = append(raws, benchWrite(b, w, f.ops["root"], []Op{
						set(KindWorkload, "shop/w"+strconv.Itoa(i), "replicas", strconv.Itoa(round+1)),
						set(KindWorkload, "shop/w"+strconv.Itoa(i), "template", template+strconv.Itoa(round)),
					}))
				}
				for _, name := range []string{"eu-west", "eu-north", "us-east", "ap-south"} {
					raws = append(raws, benchWrite(b, w, f.sites[name], AckOps(name, "v"+strconv.Itoa(round))))
				}
			}
			envs := map[Hash]*Envelope{}
			for _, raw := range raws {
				e, err := DecodeEnvelope(raw)
				if err != nil {
					b.Fatal(err)
				}
				envs[e.ID] = e
			}
			for _, mode := range []string{"whole", "compacted"} {
				b.Run(mode, func(b *testing.B) {
					var per, skel float64
					for b.Loop() {
						var before, after runtime.MemStats
						runtime.GC()
						runtime.ReadMemStats(&before)
						cfg := Config{Genesis: f.genesis.Encode()}
						if mode == "compacted" {
							cfg.Archive = func(id Hash) (*Envelope, bool) { e, ok := envs[id]; return e, ok }
						}
						r, err := NewReplica(cfg)
						if err != nil {
							b.Fatal(err)
						}
						for _, raw := range raws {
							if err := r.Restore(bytes.Clone(raw)); err != nil { // a buffer of its own, as from the data file
								b.Fatal(err)
							}
						}
						runtime.GC()
						runtime.ReadMemStats(&after)
						per = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(r.Len())
						skel = float64(r.SkeletonLen())
						runtime.KeepAlive(r)
					}
					b.ReportMetric(per, "bytes/change")
					b.ReportMetric(skel, "skeletons")
					b.ReportMetric(float64(len(raws)), "changes")
				})
			}
		})
	}
}
