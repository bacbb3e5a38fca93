package fedapi

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/deploy/kubeproc"
)

// idle is how long BenchmarkStart leaves the server alone before reading its memory.
const idle = 10 * time.Second

// BenchmarkStart measures Start, from nothing to every CRD Established (ns/op), and the
// resident memory of etcd and kube-apiserver after idle (MiB, from VmRSS). Run it as
//
//	go test -run '^$' -bench Start -benchtime 1x -count 3 ./deploy/fedapi/
//
// and take the median of the runs.
func BenchmarkStart(b *testing.B) {
	bin, err := kubeproc.BinDir("etcd", "kube-apiserver", "kubectl")
	if err != nil {
		b.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	var etcdRSS, apiRSS float64
	for i := 0; b.Loop(); i++ {
		dir := filepath.Join(b.TempDir(), strconv.Itoa(i))
		s, err := Start(b.Context(), Options{Dir: dir, BinDir: bin, Ephemeral: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		time.Sleep(idle)
		etcdRSS += rssMiB(b, filepath.Join(dir, "etcd.pid"))
		apiRSS += rssMiB(b, filepath.Join(dir, name, "kube-apiserver.pid"))
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(etcdRSS/float64(b.N), "etcd-RSS-MiB")
	b.ReportMetric(apiRSS/float64(b.N), "apiserver-RSS-MiB")
}

// rssMiB reads VmRSS of the process whose PID is in pidFile.
func rssMiB(b *testing.B, pidFile string) float64 {
	b.Helper()
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open("/proc/" + strings.TrimSpace(string(pid)) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no VmRSS in /proc/%s/status", strings.TrimSpace(string(pid)))
	return 0
}
