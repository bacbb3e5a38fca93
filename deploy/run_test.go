package deploy_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

// replicaProc is one `atoll site` process started as a pod of the chart would be.
type replicaProc struct {
	id, socket, http, log string
	cmd                   *exec.Cmd
	done                  chan error
}

// TestChartReplicasRun runs the chart's three-replica site as real processes: the
// ConfigMap's site.yaml and the container's arguments as rendered, with what only a
// cluster provides replaced (the pods' DNS names by localhost, the mounted files by
// local ones, one port per process instead of one address per pod). The replicas elect a
// leader over their DNS-named Raft addresses, the leader joins the member cluster that
// site.yaml declares (a real one), every replica becomes ready, and a replica stopped
// as a rolling update stops it (SIGTERM) exits within the pod's grace period while
// another takes over the site.
func TestChartReplicasRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kubernetes cluster and three site processes")
	}
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	bin := imageBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "atoll-chart-") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(dir, "kube"), Clusters: 1, NodesPerCluster: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })

	// The federation: one site, us-east, whose key the three replicas share.
	keyPath, genesisPath := filepath.Join(dir, "us-east.key"), filepath.Join(dir, "genesis.atoll")
	pub, err := site.NewKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	admin := crdt.SignerFromSeed([]byte(rand.Text() + rand.Text())[:32])
	genesis, err := crdt.NewGenesis(crdt.CharterSpec{Name: "chart", Threshold: 1,
		Admins: []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites:  []crdt.SiteInfo{{Name: "us-east", Key: pub, Region: "us-east-1", Jurisdiction: "US"}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(genesisPath, genesis.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}

	_, o := render(t, "us-east", "-f", chart+"/ci/minimal-values.yaml", "--set", "replicas=3,site.profile=local",
		"--set", "clusters[0].name=member-0,clusters[0].secret=member-0-kubeconfig,clusters[0].labels.tier=prod")
	sts := one[appsv1.StatefulSet](t, o, "StatefulSet", "us-east")
	shared := one[corev1.ConfigMap](t, o, "ConfigMap", "us-east").Data["site.yaml"]
	args := sts.Spec.Template.Spec.Containers[0].Args

	ports := freePorts(t, 6)
	procs := make([]*replicaProc, 3)
	for i := range procs {
		var cfg map[string]any
		if err := yaml.Unmarshal([]byte(shared), &cfg); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "r"+strconv.Itoa(i))
		cfg["identity"], cfg["genesis"], cfg["dataDir"] = keyPath, genesisPath, data
		cfg["listen"] = "0.0.0.0:" + strconv.Itoa(ports[i]) // as in the pod; one port per process here
		cfg["http"] = "127.0.0.1:" + strconv.Itoa(ports[3+i])
		for k, p := range cfg["replica"].(map[string]any)["peers"].([]any) {
			p.(map[string]any)["address"] = "localhost:" + strconv.Itoa(ports[k]) // a DNS name, like the pods'
		}
		cfg["clusters"].([]any)[0].(map[string]any)["kubeconfig"] = env.Clusters()[0].AtollKubeconfig
		b, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "site-"+strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		pod := "us-east-" + strconv.Itoa(i)
		r := strings.NewReplacer("/etc/atoll/site.yaml", file, "$(POD_NAME)", pod, "$(POD_IP):7946", "127.0.0.1:"+strconv.Itoa(ports[i]))
		var a []string
		for _, arg := range args {
			a = append(a, r.Replace(arg))
		}
		if !strings.Contains(strings.Join(args, " "), "--replica-id=$(POD_NAME) --advertise=$(POD_IP):7946") {
			t.Fatalf("container args %q: want --replica-id and --advertise from the downward API", args)
		}
		procs[i] = startReplica(t, bin, pod, a, filepath.Join(data, "atoll.sock"), "http://"+cfg["http"].(string), filepath.Join(dir, pod+".log"))
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.stop()
		}
		if t.Failed() {
			for _, p := range procs {
				b, _ := os.ReadFile(p.log)
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("--- %s (tail)\n%s", p.log, b)
			}
		}
	})

	// Every replica ready (the probe's /readyz), one leader, the declared cluster joined
	// through the Raft log into every replica's registry, and observed healthy.
	lead := waitLeader(t, ctx, procs, nil)
	for _, p := range procs {
		waitFor(t, ctx, p.id+" ready and holding member-0", func() error {
			if err := get(ctx, p.http+"/readyz"); err != nil {
				return err
			}
			c := site.NewClient(p.socket)
			defer c.Close()
			cl, err := c.Clusters(ctx)
			if err != nil {
				return err
			}
			if len(cl) != 1 || cl[0].Name != "member-0" || cl[0].Labels["tier"] != "prod" {
				return fmt.Errorf("clusters %+v", cl)
			}
			return nil
		})
	}
	waitFor(t, ctx, "member-0 healthy in the site's state", func() error {
		c := site.NewClient(procs[lead].socket)
		defer c.Close()
		obj, err := c.Object(ctx, "cluster", "us-east/member-0")
		if err != nil {
			return err
		}
		if h := obj["health"].Value; h != "healthy" {
			return fmt.Errorf("health %q", h)
		}
		return nil
	})

	// A rolling update's SIGTERM to the leader: it exits cleanly within the grace period,
	// and another replica leads the site.
	grace := time.Duration(*sts.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	begin := time.Now()
	if err := procs[lead].terminate(grace); err != nil {
		t.Fatalf("%s after SIGTERM: %v", procs[lead].id, err)
	}
	t.Logf("%s (leader) stopped in %v", procs[lead].id, time.Since(begin).Round(time.Millisecond))
	next := waitLeader(t, ctx, procs, procs[lead])
	t.Logf("%s leads %v after the SIGTERM", procs[next].id, time.Since(begin).Round(time.Millisecond))
	for i, p := range procs {
		if i != lead {
			if err := p.terminate(grace); err != nil {
				t.Errorf("%s after SIGTERM: %v", p.id, err)
			}
		}
	}
}

func startReplica(t *testing.T, bin, id string, args []string, socket, httpURL, log string) *replicaProc {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &replicaProc{id: id, socket: socket, http: httpURL, log: log, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p
}

// terminate sends SIGTERM and waits up to grace for a clean exit.
func (p *replicaProc) terminate(grace time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(grace):
		return fmt.Errorf("still running %v after SIGTERM (the pod's grace period)", grace)
	}
}

// stop kills the process if it still runs.
func (p *replicaProc) stop() {
	select {
	case err := <-p.done:
		p.done <- err
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *replicaProc) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// waitLeader waits until exactly one running replica other than not leads the site.
func waitLeader(t *testing.T, ctx context.Context, procs []*replicaProc, not *replicaProc) int {
	t.Helper()
	lead := -1
	waitFor(t, ctx, "one leader", func() error {
		var leaders []string
		for i, p := range procs {
			if p == not || p.exited() {
				continue
			}
			c := site.NewClient(p.socket)
			st, err := c.State(ctx)
			c.Close()
			if err == nil && st.Role == "leader" {
				leaders, lead = append(leaders, p.id), i
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("leaders %v", leaders)
		}
		return nil
	})
	return lead
}

func waitFor(t *testing.T, ctx context.Context, what string, f func() error) {
	t.Helper()
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(url + ": " + resp.Status)
	}
	return nil
}

// freePorts returns n distinct ports free on 127.0.0.1 for TCP and UDP, as far as one
// can tell: each is held until all are picked, so that none is handed out twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for len(out) < n {
		ln, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", "0.0.0.0:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		held = append(held, pc)
		out = append(out, port)
	}
	return out
}
