package e2e

import (
	"context"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

// FootprintReport is the outcome of RunFootprint: what one idle site costs.
type FootprintReport struct {
	Clusters  int `json:"clusters"`
	Workloads int `json:"workloads"`
	// RSS is the site's resident memory at the end of the idle period; PeakRSS its high
	// water mark over the whole run (VmHWM), both in MiB.
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// CPUPercent is the CPU time the site used over the idle period, as a percentage of
	// one core.
	CPUPercent float64 `json:"cpu_percent_of_core"`
	IdleS      float64 `json:"idle_s"`
	// Passes and StatusWrites are the reconcile passes the site ran over the idle period,
	// and the status refreshes it wrote between them.
	Passes       int `json:"reconcile_passes"`
	StatusWrites int `json:"status_refreshes"`
	// CPUProfile is the file holding the site's CPU profile of the idle period, when
	// Options.CPUProfile asked for one.
	CPUProfile string `json:"cpu_profile,omitempty"`
}

// RunFootprint runs one site with clusters real member clusters joined and workloads
// one-replica workloads applied in them, waits until every Deployment is ready and the
// site has stopped reporting their status (settled), then measures the site process's
// memory and CPU, and counts its passes, while nothing changes for idle.
func RunFootprint(ctx context.Context, o Options, clusters, workloads int, idle time.Duration) (FootprintReport, error) {
	rep := FootprintReport{Clusters: clusters, Workloads: workloads}
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(o.Dir, "kube"), Clusters: clusters, NodesPerCluster: 4, NodeCPU: "64", NodeMemory: "256Gi"})
	if err != nil {
		return rep, err
	}
	defer env.Stop()
	o.Sites, o.HTTP = 1, true // HTTP: its metrics count the passes
	f, err := startSettled(ctx, o)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	for i, c := range env.Clusters() {
		b, err := os.ReadFile(c.AtollKubeconfig)
		if err != nil {
			return rep, err
		}
		if err := f.Client(0).JoinCluster(ctx, site.JoinRequest{Name: fmt.Sprintf("k%d", i), Kubeconfig: string(b)}); err != nil {
			return rep, err
		}
	}
	op, err := newOperatorFor(f)
	if err != nil {
		return rep, err
	}
	for w := 0; w < workloads; w += 50 {
		var ops []crdt.Op
		for j := w; j < min(w+50, workloads); j++ {
			ops = append(ops, workloadOps("idle", fmt.Sprintf("w%d", j), clusters)...)
		}
		if err := op.write(ctx, 0, ops...); err != nil {
			return rep, err
		}
	}
	cs, err := clientsets(env, 100, 200)
	if err != nil {
		return rep, err
	}
	for _, k := range cs {
		if err := waitReady(ctx, k, "idle", workloads); err != nil {
			return rep, err
		}
	}
	pid := f.Pid(0)
	if pid == 0 {
		return rep, fmt.Errorf("site %s is not running", f.Names[0])
	}
	profile := func() error { // start, then write, the site's profile (--cpu-profile)
		if !o.CPUProfile {
			return nil
		}
		p, err := os.FindProcess(pid)
		if err == nil {
			err = p.Signal(syscall.SIGUSR1)
		}
		return err
	}
	if err := profile(); err != nil {
		return rep, err
	}
	// Ready is not yet idle: the members' controllers go on updating the Deployments'
	// conditions for a while, which the site reports. Idle starts once no status was
	// written for settleQuiet.
	counters := []string{"atoll_reconcile_duration_seconds_count", "atoll_status_refreshes_total"}
	m0, err := settled(ctx, f, counters)
	if err != nil {
		return rep, err
	}
	cpu0, err := cpuTicks(pid)
	if err != nil {
		return rep, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-time.After(idle):
	}
	cpu1, err := cpuTicks(pid)
	if err != nil {
		return rep, err
	}
	m1, err := metricValues(ctx, f.HTTP(), f.URL(0), counters...)
	if err != nil {
		return rep, err
	}
	rep.Passes = int(m1[counters[0]] - m0[counters[0]])
	rep.StatusWrites = int(m1[counters[1]] - m0[counters[1]])
	if err := profile(); err != nil {
		return rep, err
	}
	if o.CPUProfile {
		rep.CPUProfile = filepath.Join(o.Dir, f.Names[0]+".cpu.pprof")
		// The site writes it once it handled the signal: wait for more than a header.
		for deadline := time.Now().Add(10 * time.Second); ; {
			if fi, err := os.Stat(rep.CPUProfile); err == nil && fi.Size() > 64 {
				break
			}
			if time.Now().After(deadline) {
				return rep, fmt.Errorf("the site did not write its CPU profile %s", rep.CPUProfile)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	rep.IdleS = time.Since(t0).Seconds()
	rep.CPUPercent = float64(cpu1-cpu0) / clockTicks / rep.IdleS * 100
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return rep, err
	}
	rep.RSSMiB = statusKiB(string(status), "VmRSS:") / 1024
	rep.PeakRSSMiB = statusKiB(string(status), "VmHWM:") / 1024
	return rep, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times on Linux.
const clockTicks = 100

// cpuTicks returns the user and system CPU time of process pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its ')' are fixed.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, fields[11], fields[12])
	}
	return utime + stime, nil
}

// statusKiB reads a "Name:  1234 kB" line of /proc/<pid>/status.
func statusKiB(status, name string) float64 {
	for line := range strings.SplitSeq(status, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return v
		}
	}
	return 0
}

// clientsets returns a client of each of env's clusters, as their admin, at qps and
// burst, quiet about warnings.
func clientsets(env *testenv.Env, qps float32, burst int) ([]*kubernetes.Clientset, error) {
	var out []*kubernetes.Clientset
	for _, c := range env.Clusters() {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			return nil, err
		}
		cfg.QPS, cfg.Burst = qps, burst
		cfg.WarningHandler = rest.NoWarnings{}
		k, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// settleQuiet is how long a site must write no status before its idle period starts.
const settleQuiet = 10 * time.Second

// settled waits until site 0 wrote no status refresh for settleQuiet (at most 3 minutes),
// and returns its counters then.
func settled(ctx context.Context, f *Fed, counters []string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last map[string]float64
	since := time.Now()
	for {
		m, err := metricValues(ctx, f.HTTP(), f.URL(0), counters...)
		if err != nil {
			return nil, fmt.Errorf("waiting for the site to settle: %w", err)
		}
		if last == nil || m["atoll_status_refreshes_total"] != last["atoll_status_refreshes_total"] {
			since = time.Now()
		}
		last = m
		if time.Since(since) >= settleQuiet {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the site went on writing status for 3 minutes: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
