package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/deploy/testenv"
	"atoll/site"
)

// demoRun is `atoll demo` running as a process, its output collected line by line.
type demoRun struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited
	waitErr error         // how it exited, set before done is closed

	mu    sync.Mutex
	lines []string
	added chan struct{} // signalled on each new line
}

func startDemo(t *testing.T, dir string) *demoRun {
	d := &demoRun{done: make(chan struct{}), added: make(chan struct{}, 1)}
	d.cmd = exec.Command(binary, "demo", "--dir", dir, "--timeout", "4m")
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.cmd.Stdout
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			d.mu.Unlock()
			select {
			case d.added <- struct{}{}:
			default:
			}
		}
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill() // if still running; its children die with it (Pdeathsig)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("atoll demo output:\n%s", d.output())
		}
	})
	return d
}

func (d *demoRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// waitLine waits until the demo prints a line starting with prefix, failing if it exits.
func (d *demoRun) waitLine(ctx context.Context, prefix string) error {
	exited := false
	for {
		d.mu.Lock()
		for _, l := range d.lines {
			if strings.HasPrefix(l, prefix) {
				d.mu.Unlock()
				return nil
			}
		}
		d.mu.Unlock()
		if exited {
			return fmt.Errorf("atoll demo exited (%v) before printing %q", d.waitErr, prefix)
		}
		select {
		case <-d.added:
		case <-d.done:
			exited = true // every line is in: look once more
		case <-ctx.Done():
			return fmt.Errorf("no line %q from atoll demo: %w", prefix, ctx.Err())
		}
	}
}

// demoPlaced returns the replicas of a workload by cluster, and whether every cluster has
// its share applied and ready, as a site computes it.
func demoPlaced(ctx context.Context, c *site.Client, ns, name string) (map[string]int, bool, error) {
	p, err := c.Placement(ctx, ns, name)
	if err != nil {
		return nil, false, err
	}
	out, ready := map[string]int{}, p.Error == "" && p.Missing == 0
	for _, s := range p.Sites {
		for _, cl := range s.Clusters {
			if cl.Replicas > 0 {
				out[cl.Name] = cl.Replicas
				ready = ready && cl.Desired == cl.Replicas && cl.Ready >= cl.Replicas
			}
		}
	}
	return out, ready, nil
}

// TestDemo runs `atoll demo` as `make demo` does: 3 sites and 6 real clusters. Once it
// is ready it checks the placements and residency through the sites' APIs and the
// clusters, kills a site and starts it again through `atoll demo kill|start`, then
// interrupts the demo and checks that it exits 0 and leaves no process behind.
func TestDemo(t *testing.T) {
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	dir := shortTempDir(t)
	begin := time.Now()
	d := startDemo(t, dir)
	ctx := deadline(t, 4*time.Minute)
	if err := d.waitLine(ctx, "Ctrl-C stops everything."); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready after %s", time.Since(begin).Round(100*time.Millisecond))
	if !strings.Contains(d.output(), "\nReady in ") || !strings.Contains(d.output(), "export ATOLLCONFIG="+filepath.Join(dir, "atoll.config")) {
		t.Fatalf("no ready line or context file in the output")
	}
	clients := map[string]*site.Client{}
	for _, name := range []string{"us-east", "eu-west", "ap-south"} {
		clients[name] = site.NewClient(filepath.Join(dir, "data", name, "atoll.sock"))
		t.Cleanup(clients[name].Close)
	}

	// What the demo reported ready, every site sees the same way.
	want := map[string]map[string]int{
		"default/web":    {"us-east-1": 2, "eu-west-1": 2, "ap-south-1": 2},
		"default/api":    {"us-east-1": 2, "us-east-2": 2, "eu-west-1": 1, "eu-west-2": 1, "ap-south-1": 1, "ap-south-2": 1},
		"eu-bank/ledger": {"eu-west-1": 1, "eu-west-2": 1},
	}
	for key, w := range want {
		ns, name, _ := strings.Cut(key, "/")
		for s, c := range clients {
			got, ready, err := demoPlaced(ctx, c, ns, name)
			if err != nil || !ready || !maps.Equal(got, w) {
				t.Errorf("%s at %s: placed %v, ready %v, %v; want %v ready", key, s, got, ready, err, w)
			}
		}
	}

	// The bounded ledger: its body at eu-west only, its Deployment in eu-west's clusters
	// only; the read API serves the body nowhere, only its hash.
	east, err := clients["us-east"].Object(ctx, "workload", "eu-bank/ledger")
	if et := east["template"]; err != nil || !et.Redacted || et.Value != "" || et.Withheld != site.WithheldSealed || et.Hash == "" {
		t.Errorf("us-east's ledger template: %+v, %v; want it redacted", et, err)
	}
	west, err := clients["eu-west"].Object(ctx, "workload", "eu-bank/ledger")
	if wt := west["template"]; err != nil || wt.Redacted || wt.Value != "" || wt.Withheld != site.WithheldSealed || wt.Hash != east["template"].Hash {
		t.Errorf("eu-west's ledger template: %+v, %v; want it held but withheld, with the same hash", wt, err)
	}
	for _, cl := range []string{"us-east-1", "eu-west-1", "ap-south-2"} {
		cs := clientset(t, filepath.Join(dir, "clusters", cl, "admin.kubeconfig"))
		_, err := cs.AppsV1().Deployments("eu-bank").Get(ctx, "ledger", metav1.GetOptions{})
		if inEU := strings.HasPrefix(cl, "eu-west"); inEU != (err == nil) || !inEU && !apierrors.IsNotFound(err) {
			t.Errorf("ledger's Deployment in %s: %v", cl, err)
		}
	}

	// us-east's Kubernetes API, with the real kubectl, as the tour says: the federation's
	// templates but the EU-bound ledger (us-east does not hold its body), and the
	// repository's example applied and rolled out across the prod clusters.
	bin, _ := testenv.BinDir()
	kc := filepath.Join(dir, "data", "us-east", "kubeapi", "fedapi", "admin.kubeconfig")
	if !strings.Contains(d.output(), "--kubeconfig "+kc+" apply -f examples/kubectl/hello.yaml") {
		t.Errorf("the tour does not show kubectl against us-east's Kubernetes API")
	}
	kubectl := func(args ...string) string {
		out, err := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kc}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := kubectl("get", "deploy", "-A", "-o", "name"); !strings.Contains(out, "deployment.apps/api") || strings.Contains(out, "ledger") {
		t.Errorf("kubectl get deploy -A at us-east: %q; want api and web, not the EU-bound ledger", out)
	}
	kubectl("apply", "-f", filepath.Join("..", "examples", "kubectl", "hello.yaml"))
	if out := kubectl("rollout", "status", "deployment/hello", "-n", "hello", "--timeout", "2m"); !strings.Contains(out, "successfully rolled out") {
		t.Errorf("kubectl rollout status: %q", out)
	}
	for s, c := range clients {
		if err := waitDemo(ctx, "hello at "+s, func() (bool, error) {
			got, ready, err := demoPlaced(ctx, c, "hello", "hello")
			sum := 0
			for cl, n := range got {
				if !slices.Contains([]string{"us-east-1", "eu-west-1", "ap-south-1"}, cl) { // tier=prod
					return false, fmt.Errorf("hello placed in %s, which is not tier=prod: %v", cl, got)
				}
				sum += n
			}
			return ready && sum == 4, err
		}); err != nil {
			t.Error(err)
		}
	}

	// Kill us-east through the control socket: eu-west and ap-south take its api over.
	demo := func(args ...string) string {
		out, err := exec.CommandContext(ctx, binary, append(append([]string{"demo"}, args...), "--dir", dir)...).CombinedOutput()
		if err != nil {
			t.Fatalf("atoll demo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	demo("kill", "us-east")
	takeover := map[string]int{"eu-west-1": 2, "eu-west-2": 2, "ap-south-1": 2, "ap-south-2": 2}
	if err := waitDemo(ctx, "api taken over", func() (bool, error) {
		got, ready, err := demoPlaced(ctx, clients["eu-west"], "default", "api")
		return ready && maps.Equal(got, takeover), err
	}); err != nil {
		t.Fatal(err)
	}
	demo("start", "us-east")
	if err := waitDemo(ctx, "api back to 4/2/2", func() (bool, error) {
		got, ready, err := demoPlaced(ctx, clients["eu-west"], "default", "api")
		return ready && maps.Equal(got, want["default/api"]), err
	}); err != nil {
		t.Fatal(err)
	}

	// Ctrl-C: everything stops, the restarted site included, and the demo exits 0.
	stopAt := time.Now()
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
		if d.waitErr != nil {
			t.Fatalf("atoll demo exited with %v after SIGINT", d.waitErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("atoll demo still running 60 s after SIGINT")
	}
	t.Logf("stopped %s after SIGINT", time.Since(stopAt).Round(100*time.Millisecond))
	if !strings.Contains(d.output(), "Stopped the sites and the clusters") {
		t.Error("no stop line in the output")
	}
	// Every process of the demo has a path under dir in its arguments.
	if out, err := exec.Command("pgrep", "-a", "-f", dir+"/").Output(); err == nil || len(out) > 0 {
		t.Errorf("processes left running (pgrep %v):\n%s", err, out)
	} else if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("pgrep: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("working dir %s left behind without --keep: %v", dir, err)
	}
}

// waitDemo polls ok every 200 ms until it holds or ctx ends.
func waitDemo(ctx context.Context, what string, ok func() (bool, error)) error {
	for {
		done, err := ok()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error %v)", what, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
