package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"atoll/deploy/kubeproc"
)

func TestOptionsValidate(t *testing.T) {
	good := Options{Dir: "x", Clusters: 1}.withDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaulted options: %v", err)
	}
	named := Options{Dir: "x", Clusters: 2, Names: []string{"us-east-1", "us-east-2"},
		NodeExtended: map[string]map[string]string{"us-east-2": {"nvidia.com/gpu": "4", "amd.com/gpu": "2"}}}.withDefaults()
	if err := named.Validate(); err != nil {
		t.Fatalf("named clusters: %v", err)
	}
	for name, o := range map[string]Options{
		"no dir":             {Clusters: 1},
		"no clusters":        {Dir: "x"},
		"bad cpu":            {Dir: "x", Clusters: 1, NodeCPU: "eight"},
		"bad memory":         {Dir: "x", Clusters: 1, NodeMemory: "32 GB"},
		"names count":        {Dir: "x", Clusters: 2, Names: []string{"a"}},
		"bad name":           {Dir: "x", Clusters: 1, Names: []string{"A_b"}},
		"same names":         {Dir: "x", Clusters: 2, Names: []string{"a", "a"}},
		"gpus of no cluster": {Dir: "x", Clusters: 1, NodeExtended: map[string]map[string]string{"member-1": {"nvidia.com/gpu": "4"}}},
		"native as extended": {Dir: "x", Clusters: 1, NodeExtended: map[string]map[string]string{"member-0": {"hugepages-2Mi": "4"}}},
		"half a gpu":         {Dir: "x", Clusters: 1, NodeExtended: map[string]map[string]string{"member-0": {"nvidia.com/gpu": "0.5"}}},
	} {
		if err := o.withDefaults().Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, o)
		}
	}
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`

// TestEnv starts two real clusters, runs a Deployment through kwok in each, takes one
// down and stops everything.
func TestEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real Kubernetes clusters")
	}
	bin, err := BinDir()
	if err != nil {
		t.Skipf("Kubernetes test binaries missing: run `make kube` (%v)", err)
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	env, err := Start(ctx, Options{
		Dir: t.TempDir(), Clusters: 2, NodesPerCluster: 2,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Logf("Start: %d clusters in %v", len(env.Clusters()), time.Since(begin).Round(time.Millisecond))

	for _, m := range env.members {
		var v struct {
			GitVersion string `json:"gitVersion"`
		}
		if err := m.api.Do(ctx, http.MethodGet, "/version", nil, &v); err != nil {
			t.Fatal(err)
		}
		if v.GitVersion != KubernetesVersion {
			t.Errorf("%s: /version reports %q, want %q", m.Name, v.GitVersion, KubernetesVersion)
		}
	}

	// Through kubectl and the kubeconfig files, as a user of the package would.
	var applied time.Time
	for _, c := range env.Clusters() {
		var nodes struct {
			Items []node `json:"items"`
		}
		if err := json.Unmarshal(kubectl(ctx, t, bin, c, "", "get", "nodes", "-o", "json"), &nodes); err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, n := range nodes.Items {
			if n.ready() {
				ready++
			}
		}
		if len(nodes.Items) != 2 || ready != 2 {
			t.Errorf("%s: %d Nodes, %d Ready; want 2 and 2", c.Name, len(nodes.Items), ready)
		}
		if applied.IsZero() {
			applied = time.Now()
		}
		kubectl(ctx, t, bin, c, deployment, "apply", "-f", "-")
	}
	deadline, cancelDeadline := context.WithTimeout(ctx, 90*time.Second)
	defer cancelDeadline()
	for _, m := range env.members {
		err := kubeproc.Poll(deadline, m.Name+" Deployment web Ready", 100*time.Millisecond, func(ctx context.Context) (bool, error) {
			var d struct {
				Status struct {
					ReadyReplicas int `json:"readyReplicas"`
				} `json:"status"`
			}
			if err := m.api.Do(ctx, http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/web", nil, &d); err != nil {
				return false, err
			}
			if d.Status.ReadyReplicas != 3 {
				return false, fmt.Errorf("readyReplicas %d", d.Status.ReadyReplicas)
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("Deployments of 3 replicas Ready in both clusters %v after the first apply", time.Since(applied).Round(time.Millisecond))
	logMemory(t, env)

	// One cluster down, the other still up.
	down, up := env.members[1], env.members[0]
	stopAt := time.Now()
	if err := env.StopCluster(down.Name); err != nil {
		t.Fatal(err)
	}
	t.Logf("StopCluster(%s) took %v", down.Name, time.Since(stopAt).Round(time.Millisecond))
	if err := down.api.OK(ctx, "/readyz"); err == nil {
		t.Errorf("%s: /readyz still ok after StopCluster", down.Name)
	}
	if err := up.api.OK(ctx, "/readyz"); err != nil {
		t.Errorf("%s: /readyz after the other cluster stopped: %v", up.Name, err)
	}
	if err := env.StopCluster("nonexistent"); err == nil {
		t.Error("StopCluster of an unknown cluster succeeded")
	}

	var pids []int
	for _, p := range env.allProcesses() {
		pids = append(pids, p.PID())
	}
	stopAt = time.Now()
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop took %v", time.Since(stopAt).Round(time.Millisecond))
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	if err := env.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	t.Logf("test took %v", time.Since(begin).Round(time.Millisecond))
}

// kubectl runs kubectl against c with stdin and returns its standard output.
func kubectl(ctx context.Context, t *testing.T, bin string, c Cluster, stdin string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig=" + c.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: kubectl %s: %v\n%s", c.Name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// allProcesses lists every process of env: each cluster's, then etcd.
func (e *Env) allProcesses() []*kubeproc.Process {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ps []*kubeproc.Process
	for _, m := range e.members {
		ps = append(ps, m.processes()...)
	}
	return append(ps, e.etcd)
}

// logMemory logs the resident memory of each process and each cluster.
func logMemory(t *testing.T, env *Env) {
	t.Helper()
	for _, m := range env.members {
		var total int
		var parts []string
		for _, p := range m.processes() {
			kb := rssKB(p.PID())
			total += kb
			parts = append(parts, fmt.Sprintf("%s %d MB", filepath.Base(p.Name()), kb/1024))
		}
		t.Logf("memory %s: %d MB (%s)", m.Name, total/1024, strings.Join(parts, ", "))
	}
	t.Logf("memory etcd (shared): %d MB", rssKB(env.etcd.PID())/1024)
}

// rssKB reads a process's resident set size from /proc, 0 if unknown.
func rssKB(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.Atoi(f[0])
				return kb
			}
		}
	}
	return 0
}
