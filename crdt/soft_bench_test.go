package crdt

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// Benchmarks of soft state (docs/BENCHMARKS.md, "Soft state"). Records are signed once
// per process, in parallel, and cached.

// benchSoftFixture is a replica's DAG with workloads live, and signed status records for
// them: workloads x clusters, spread over the fixture's sites.
type benchSoftFixture struct {
	f        *fed
	dag      [][]byte // changes making the workloads live
	clusters [][]byte // a soft record per cluster
	status   [][]byte // one per (workload, cluster)
}

var (
	softFixMu sync.Mutex
	softFix   = map[[2]int]*benchSoftFixture{}
)

var benchSoftSites = []string{"eu-west", "eu-north", "us-east", "ap-south"}

func benchSoft(b *testing.B, workloads, clusters int) *benchSoftFixture {
	softFixMu.Lock()
	defer softFixMu.Unlock()
	if fx := softFix[[2]int{workloads, clusters}]; fx != nil {
		return fx
	}
	f := newFed(b)
	fx := &benchSoftFixture{f: f}
	r := f.replica(b, "")
	for i := 0; i < workloads; i += 1000 {
		var ops []Op
		for w := i; w < min(i+1000, workloads); w++ {
			ops = append(ops, set(KindWorkload, "shop/w"+strconv.Itoa(w), "replicas", "2"))
		}
		fx.dag = append(fx.dag, benchWrite(b, r, f.ops["root"], ops))
	}
	cluster := func(c int) (site, key string) {
		site = benchSoftSites[c%len(benchSoftSites)]
		return site, ClusterKey(site, "c"+strconv.Itoa(c))
	}
	for c := range clusters {
		site, key := cluster(c)
		fx.clusters = append(fx.clusters, softRecord(b, f, f.sites[site], 1, KindCluster, key, "health", "healthy", "available/cpu", "31500m"))
	}
	fx.status = make([][]byte, workloads*clusters)
	var wg sync.WaitGroup
	for part := range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := part; i < len(fx.status); i += runtime.GOMAXPROCS(0) {
				w, c := i/clusters, i%clusters
				site, _ := cluster(c)
				fx.status[i] = softRecord(b, f, f.sites[site], uint64(1_700_000_000_000+i), KindStatus,
					StatusKey("shop", "w"+strconv.Itoa(w), site, "c"+strconv.Itoa(c)),
					"desired", "2", "ready", "2", "available", "2", "updated", "2", "observed", "1", "conditions", "Available=True,Progressing=True")
			}
		}()
	}
	wg.Wait()
	softFix[[2]int{workloads, clusters}] = fx
	return fx
}

// BenchmarkSoftMemory holds workloads x clusters status records (as a restarting site
// restores them from its data file, each record in a buffer of its own) and reports the
// live heap per record, the record's bytes included, and the time per record; the DAG of
// the workloads is built before the timer starts.
func BenchmarkSoftMemory(b *testing.B) {
	sizes := []struct{ workloads, clusters int }{{10_000, 5}, {100_000, 3}}
	if os.Getenv("ATOLL_BENCH_LARGE") != "" { // 5 million records: minutes to sign, ~5 GB
		sizes = append(sizes, struct{ workloads, clusters int }{100_000, 50})
	}
	for _, tc := range sizes {
		b.Run(fmt.Sprintf("workloads=%d/clusters=%d", tc.workloads, tc.clusters), func(b *testing.B) {
			fx := benchSoft(b, tc.workloads, tc.clusters)
			var alloc uint64
			for b.Loop() {
				b.StopTimer()
				r := fx.f.replica(b, "")
				for _, raw := range fx.dag {
					if err := r.Restore(raw); err != nil {
						b.Fatal(err)
					}
				}
				for _, raw := range fx.clusters {
					if err := r.RestoreSoft(raw); err != nil {
						b.Fatal(err)
					}
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				r.ReserveSoft(len(fx.clusters) + len(fx.status)) // as the site does from its data file's count
				for _, raw := range fx.status {
					// a copy, as the data file hands each record in a buffer of its own
					if err := r.RestoreSoft(bytes.Clone(raw)); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				if held, _ := r.SoftLen(); held != len(fx.status)+len(fx.clusters) {
					b.Fatalf("%d records held, want %d", held, len(fx.status)+len(fx.clusters))
				}
				r.TakeSoft()
				runtime.KeepAlive(r)
				alloc += after.HeapAlloc - before.HeapAlloc
				b.StartTimer()
			}
			n := float64(b.N) * float64(len(fx.status))
			b.ReportMetric(float64(alloc)/n, "bytes/record")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
			b.ReportMetric(float64(len(fx.status[0])), "record-bytes")
		})
	}
}

// BenchmarkStatusChurn updates the status of 10,000 workloads over and over, as DAG
// changes (what sites wrote before soft state) and as soft records, and reports the live
// heap each update leaves behind once the objects are warm, and the bytes of one update.
func BenchmarkStatusChurn(b *testing.B) {
	const objects = 10_000
	for _, mode := range []string{"dag", "soft"} {
		b.Run(mode, func(b *testing.B) {
			fx := benchSoft(b, objects, 1)
			f := fx.f
			r := f.replica(b, "eu-west")
			for _, raw := range fx.dag {
				if err := r.Restore(raw); err != nil {
					b.Fatal(err)
				}
			}
			for _, raw := range fx.clusters {
				if err := r.RestoreSoft(raw); err != nil {
					b.Fatal(err)
				}
			}
			eu := f.sites["eu-west"]
			size := 0
			update := func(i int) {
				key := StatusKey("shop", "w"+strconv.Itoa(i%objects), "eu-west", "c0")
				v := []byte(strconv.Itoa(i))
				if mode == "dag" {
					size = len(benchWrite(b, r, eu, []Op{set(KindStatus, key, "ready", string(v))}))
					return
				}
				raw, err := r.WriteSoft(eu, uint64(i+1), KindStatus, key, []SoftField{
					{"available", v}, {"conditions", []byte("Available=True,Progressing=True")}, {"desired", []byte("2")},
					{"observed", []byte("1")}, {"ready", v}, {"updated", v}})
				if err != nil {
					b.Fatal(err)
				}
				size = len(raw)
				r.TakeSoft()
			}
			for i := range objects { // warm: every object written once
				update(i)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			i := objects
			for b.Loop() {
				update(i)
				i++
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(r)
			b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/float64(b.N), "heap-bytes/update")
			b.ReportMetric(float64(size), "wire-bytes/update")
		})
	}
}
