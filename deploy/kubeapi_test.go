package deploy_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/deploy/fedapi"
	"atoll/deploy/testenv"
	"atoll/site"
)

// kubeAPIDir is where the chart puts the Kubernetes API's files in the pod.
const kubeAPIDir = "/var/lib/atoll/kubeapi"

// TestChartKubeAPI renders the site with its Kubernetes API: an init container prepares
// the PKI, and etcd and kube-apiserver run beside the site with exactly the arguments
// the site expects (fedapi.PodArgs), on the pod's part of the data volume only, the
// apiserver read-only; site.yaml attaches to them with the operator key of the Secret.
func TestChartKubeAPI(t *testing.T) {
	_, o := render(t, "us-east", "-f", chart+"/ci/kubeapi-values.yaml")
	sts := one[appsv1.StatefulSet](t, o, "StatefulSet", "us-east")
	cfg := siteConfig(t, o, "us-east", "us-east-0", sts)
	checkPod(t, sts, cfg)
	pod := sts.Spec.Template.Spec
	if k := cfg.KubeAPI; k == nil || !k.External || k.Dir != kubeAPIDir || k.BinDir != "" {
		t.Fatalf("site.yaml kubeAPI %+v: want external, dir %s", k, kubeAPIDir)
	}
	if got := fileSource(t, pod, cfg.KubeAPI.OperatorKey); got != "secret/us-east-kubeapi/operator.key" {
		t.Errorf("the API operator's key from %s", got)
	}
	var names []string
	for _, c := range pod.Containers {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"atoll", "etcd", "kube-apiserver"}) {
		t.Fatalf("containers %v", names)
	}
	etcdArgs, apiArgs := fedapi.PodArgs(kubeAPIDir)
	for i, want := range map[int][]string{1: etcdArgs, 2: apiArgs} {
		c := pod.Containers[i]
		if !slices.Equal(c.Args, want) {
			t.Errorf("%s args:\n%q\nwant (atoll kubeapi args):\n%q", c.Name, c.Args, want)
		}
		if len(c.Ports) != 0 || c.Resources.Limits.Memory().IsZero() || c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("%s: ports %v, resources %+v, security %+v: want no port, a memory limit, a read-only root", c.Name, c.Ports, c.Resources, c.SecurityContext)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != "data" || c.VolumeMounts[0].SubPath != "kubeapi" || c.VolumeMounts[0].MountPath != kubeAPIDir {
			t.Errorf("%s mounts %+v: want the data volume's kubeapi only, at %s", c.Name, c.VolumeMounts, kubeAPIDir)
		}
	}
	if !pod.Containers[2].VolumeMounts[0].ReadOnly {
		t.Error("the apiserver may write its PKI")
	}
	if len(pod.InitContainers) != 1 || !slices.Equal(pod.InitContainers[0].Args, []string{"kubeapi", "prepare", "--dir=" + kubeAPIDir}) ||
		pod.InitContainers[0].Image != pod.Containers[0].Image {
		t.Errorf("init containers %+v: want atoll kubeapi prepare --dir=%s from the site's image", pod.InitContainers, kubeAPIDir)
	}
	// The default renders none of it.
	_, o = render(t, "us-east", "-f", chart+"/ci/minimal-values.yaml")
	if p := one[appsv1.StatefulSet](t, o, "StatefulSet", "us-east").Spec.Template.Spec; len(p.Containers) != 1 || len(p.InitContainers) != 0 {
		t.Errorf("by default %d containers, %d init containers", len(p.Containers), len(p.InitContainers))
	}
}

// TestChartKubeAPIRun runs the pod of TestChartKubeAPI as real processes sharing a
// network namespace of their own, as a pod's containers share one: the init container's
// `atoll kubeapi prepare`, then etcd, kube-apiserver and `atoll site` with the rendered
// arguments and site.yaml (the mounted paths replaced by local ones, nothing else). The
// site attaches to the apiserver on the pod's loopback and installs Karmada's CRDs, and
// a Deployment applied there by kubectl becomes the federation's, signed by the API's
// operator.
func TestChartKubeAPIRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd, a kube-apiserver and a site")
	}
	if os.Geteuid() != 0 {
		t.Skip("a network namespace for the pod needs root")
	}
	kube, err := testenv.BinDir()
	if err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	for _, tool := range []string{"ip", "unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (make deps installs iproute2)", tool, err)
		}
	}
	bin := imageBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "atoll-kubeapi-") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	keyPath, apiKeyPath, genesisPath := filepath.Join(dir, "us-east.key"), filepath.Join(dir, "api.key"), filepath.Join(dir, "genesis.atoll")
	pub, err := site.NewKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	apiPub, err := site.NewKeyFile(apiKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	admin := crdt.SignerFromSeed([]byte(rand.Text() + rand.Text())[:32])
	genesis, err := crdt.NewGenesis(crdt.CharterSpec{Name: "chart", Threshold: 1,
		Admins:    []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites:     []crdt.SiteInfo{{Name: "us-east", Key: pub, Region: "us-east-1", Jurisdiction: "US"}},
		Operators: []crdt.OperatorInfo{{Name: "api", Key: apiPub, Namespaces: []string{"shop"}}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(genesisPath, genesis.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}

	_, o := render(t, "us-east", "-f", chart+"/ci/kubeapi-values.yaml", "--set", "site.profile=local")
	sts := one[appsv1.StatefulSet](t, o, "StatefulSet", "us-east")
	pod := sts.Spec.Template.Spec
	// The data volume is dir/data; the apiserver's and etcd's part of it dir/data/kubeapi.
	data := filepath.Join(dir, "data")
	local := strings.NewReplacer(kubeAPIDir, filepath.Join(data, "kubeapi"), "/var/lib/atoll", data)
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(one[corev1.ConfigMap](t, o, "ConfigMap", "us-east").Data["site.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["identity"], cfg["genesis"], cfg["dataDir"] = keyPath, genesisPath, data
	k := cfg["kubeAPI"].(map[string]any)
	k["operatorKey"], k["dir"] = apiKeyPath, local.Replace(k["dir"].(string))
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	siteFile := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(siteFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	command := func(c corev1.Container, prog string) []string {
		out := []string{prog}
		for _, a := range c.Args {
			out = append(out, strings.NewReplacer("/etc/atoll/site.yaml", siteFile, "$(POD_IP)", "127.0.0.1").Replace(local.Replace(a)))
		}
		return out
	}

	// The pod's network namespace, held by a process of its own, with loopback up.
	holder := exec.Command("unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec sleep 600")
	holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	inPod := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/proc/" + fmt.Sprint(holder.Process.Pid) + "/ns/net", "--"}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		return cmd
	}
	waitFor(t, ctx, "the pod's loopback up", func() error {
		return inPod("ip", "-o", "link", "show", "lo", "up").Run()
	})

	// The init container, to completion; then the three containers.
	if out, err := inPod(command(pod.InitContainers[0], bin)...).CombinedOutput(); err != nil {
		t.Fatalf("init container %s: %v\n%s", pod.InitContainers[0].Name, err, out)
	}
	progs := map[string]string{"atoll": bin, "etcd": filepath.Join(kube, "etcd"), "kube-apiserver": filepath.Join(kube, "kube-apiserver")}
	for _, c := range pod.Containers {
		log := filepath.Join(dir, c.Name+".log")
		f, err := os.Create(log)
		if err != nil {
			t.Fatal(err)
		}
		cmd := inPod(command(c, progs[c.Name])...)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				b, _ := os.ReadFile(log)
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("--- %s (tail)\n%s", c.Name, b)
			}
		})
	}

	// kubectl in the pod, with the admin kubeconfig the site wrote: Karmada's CRDs are
	// there, and a Deployment applied becomes the federation's.
	kubectl := func(stdin string, args ...string) (string, error) {
		kc := filepath.Join(data, "kubeapi", "fedapi", "admin.kubeconfig")
		cmd := inPod(append([]string{filepath.Join(kube, "kubectl"), "--kubeconfig", kc}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	waitFor(t, ctx, "Karmada's CRDs established in the site's API", func() error {
		out, err := kubectl("", "get", "crd", "propagationpolicies.policy.karmada.io", "-o", `jsonpath={.status.conditions[?(@.type=="Established")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	// The site attached to the pod's apiserver, not one of its own.
	if b, err := os.ReadFile(filepath.Join(data, "kubeapi", "fedapi", "admin.kubeconfig")); err != nil || !strings.Contains(string(b), fmt.Sprintf("https://127.0.0.1:%d", fedapi.PodAPIServerPort)) {
		t.Fatalf("the site's admin kubeconfig (%v):\n%s\nwant the pod's apiserver", err, b)
	}
	waitFor(t, ctx, "a Deployment applied in the site's API", func() error {
		out, err := kubectl(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/web:1}]
`, "apply", "-f", "-")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	waitFor(t, ctx, "shop/web in the federation's state", func() error {
		c := site.NewClient(filepath.Join(data, "atoll.sock"))
		defer c.Close()
		obj, err := c.Object(ctx, "workload", "shop/web")
		if err != nil {
			return err
		}
		if obj == nil {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}
