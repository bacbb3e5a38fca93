package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

// reportPolicy divides Jobs between the two sites' clusters; reportJob is a Job of 4
// completions, 2 at a time.
const (
	reportPolicy = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: report, namespace: batch}
spec:
  resourceSelectors:
  - {apiVersion: batch/v1, kind: Job, name: report}
  placement:
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1]}
    replicaScheduling: {replicaSchedulingType: Divided}
`
	reportJob = `apiVersion: batch/v1
kind: Job
metadata: {name: report, namespace: batch}
spec:
  parallelism: 2
  completions: 4
  template:
    spec:
      restartPolicy: Never
      containers: [{name: report, image: registry.invalid/report:1}]
`
	agentDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: batch}
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers: [{name: agent, image: registry.invalid/agent:1}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: agent, namespace: batch}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: DaemonSet, name: agent}
  placement:
    clusterAffinity: {clusterNames: [SITE0/c0, SITE1/c1]}
`
)

// TestJobsAndDaemonSets: two sites, a cluster each with 3 kwok Nodes. Below format level
// 2, a Job that its own apply's policy divides is refused by atoll apply, naming the
// level, and one that a stored policy divides is refused by the sites, which say why.
// The admin raises the charter to level 2 (atoll charter propose --format 2, submit):
// the sites divide the Job, parallelism 1 and completions 2 in each cluster, kwok runs
// and completes its pods, and the other site's view shows the counts summed (4
// succeeded, Complete) and per cluster. A DaemonSet in both clusters reports, per
// cluster, 3 pods desired and ready: one per Node.
func TestJobsAndDaemonSets(t *testing.T) {
	const nodes = 3
	env := startClusters(t, testenv.Options{Clusters: 2, NodesPerCluster: nodes})
	f := start(t, Options{Sites: 2, HTTP: true, Format: 1}) // a federation from before levels
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	joinClusters(ctx, t, f, env, nil)
	cs := []*kubernetes.Clientset{clientset(t, env.Clusters()[0].Kubeconfig), clientset(t, env.Clusters()[1].Kubeconfig)}
	atoll := cliAt(ctx, t, f, 0)
	sites := strings.NewReplacer("SITE0", f.Names[0], "SITE1", f.Names[1])
	write := func(name, text string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(sites.Replace(text)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// Level 1: the CLI refuses a Job its own policy divides, and sends nothing.
	if out, err := atoll("apply", "-f", write("both.yaml", reportPolicy+"---\n"+reportJob)); err == nil ||
		!strings.Contains(out, "dividing a Job needs format level 2 (atoll charter propose --format 2)") || !strings.Contains(out, "nothing was sent") {
		t.Fatalf("apply of a divided Job at level 1: %v\n%s", err, out)
	}
	// A stored policy divides it: the sites refuse it, and say why.
	for _, file := range []string{"policy.yaml", "job.yaml"} {
		text := map[string]string{"policy.yaml": reportPolicy, "job.yaml": reportJob}[file]
		if out, err := atoll("apply", "-f", write(file, text)); err != nil {
			t.Fatalf("apply %s: %v\n%s", file, err, out)
		}
	}
	job := func(v site.View) (site.WorkloadView, bool) {
		for _, w := range v.Workloads {
			if w.Namespace == "batch" && w.Name == "report" {
				return w, true
			}
		}
		return site.WorkloadView{}, false
	}
	var last string
	if err := f.waitFor(ctx, "the sites to refuse the divided Job", func(map[int]site.State) bool {
		v, err := f.Client(1).View(ctx)
		if err != nil {
			return false
		}
		w, _ := job(v)
		last = w.Error
		return strings.Contains(w.Error, "dividing a Job needs format level 2")
	}); err != nil {
		t.Fatalf("%v; last error %q", err, last)
	}

	// A Job's completions cannot change once it is created: raise the level once both
	// sites see both clusters healthy, so that the Job is created with the settled
	// division rather than a takeover's (which would leave the clusters more completions
	// than the template's, never fewer).
	if err := f.waitFor(ctx, "both clusters healthy at both sites", func(map[int]site.State) bool {
		for i := range 2 {
			v, err := f.Client(i).View(ctx)
			if err != nil {
				return false
			}
			healthy := 0
			for _, c := range v.Clusters {
				if c.Healthy {
					healthy++
				}
			}
			if healthy != 2 {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	// The admin raises the level; every site switches at once.
	amendment := filepath.Join(t.TempDir(), "format.yaml")
	out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--format", "2", "-m", "divide Jobs", "-o", amendment)
	if err != nil || !strings.Contains(out, "~ format 1 -> 2") {
		t.Fatalf("propose --format 2: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "propose", "--key", f.KeyFile("admin"), "--format", "9", "-o", filepath.Join(t.TempDir(), "nine.yaml")); err == nil ||
		!strings.Contains(out, fmt.Sprintf("this release implements levels up to %d", crdt.MaxFormat)) {
		t.Fatalf("propose --format 9: %v\n%s", err, out)
	}
	if out, err := atoll("charter", "submit", amendment); err != nil || charterAcceptedRE.FindStringSubmatch(out) == nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := atoll("charter", "show"); err != nil || !strings.Contains(out, "format: level 2") {
		t.Fatalf("charter show: %v\n%s", err, out)
	}

	// Each cluster runs its share: parallelism 1, completions 2.
	spec := func(i int) string {
		j, err := cs[i].BatchV1().Jobs("batch").Get(ctx, "report", metav1.GetOptions{})
		if err != nil || j.Spec.Parallelism == nil || j.Spec.Completions == nil {
			return fmt.Sprint(err)
		}
		return fmt.Sprintf("parallelism %d, completions %d", *j.Spec.Parallelism, *j.Spec.Completions)
	}
	if err := f.waitFor(ctx, "the Job divided 1:1, 2 completions each", func(map[int]site.State) bool {
		last = spec(0) + "; " + spec(1)
		return last == "parallelism 1, completions 2; parallelism 1, completions 2"
	}); err != nil {
		t.Fatalf("%v; last %s", err, last)
	}
	// The other site sees the counts summed, and per cluster.
	if err := f.waitFor(ctx, "the Job complete at every cluster, as site 1 sees it", func(map[int]site.State) bool {
		v, err := f.Client(1).View(ctx)
		if err != nil {
			return false
		}
		w, _ := job(v)
		last = fmt.Sprintf("%+v %+v", w.Job, w.Error)
		if w.Job == nil || w.Job.Succeeded != 4 || w.Job.Finished != site.JobComplete {
			return false
		}
		n := 0
		for _, s := range w.Sites {
			for _, c := range s.Clusters {
				if c.Job != nil && c.Job.Succeeded == 2 && c.Job.Finished == site.JobComplete && c.Desired == 1 && c.Ready == 1 {
					n++
				}
			}
		}
		return n == 2
	}); err != nil {
		t.Fatalf("%v; last %s", err, last)
	}
	if out, err := cliAt(ctx, t, f, 1)("get", "status", "batch/report"); err != nil || !strings.Contains(out, "0 active, 2 succeeded, 0 failed, Complete") {
		t.Fatalf("get status at site 1: %v\n%s", err, out)
	}
	// The dashboard of site 1, in the real browser: the Job's counts summed in its row and
	// card, and each cluster's in the card.
	tab := browser(t)
	tok, err := f.Token("admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := signIn(tab, f.URL(1), tok); err != nil {
		t.Fatal(err)
	}
	const card = `[data-testid="workload-detail"] [data-detail="batch/report"]`
	open := `(() => { const r = document.querySelector('#workloads [data-workload="batch/report"]'); if (r && !document.querySelector('` + card + `')) r.click(); return r !== null; })()`
	shown := `(() => { const c = document.querySelector('` + card + `'); if (!c) return '';
		const f = (sel) => [...c.querySelectorAll(sel)].map((e) => e.textContent).join(' | ');
		return f('.stats [data-field="job"]') + ' ; ' + f('.stats [data-field="finished"]') + ' ; ' + f('.clusters [data-field="job"]') + ' ; ' + f('.clusters [data-field="finished"]'); })()`
	want := "4 succeeded · 0 active · 0 failed ; Complete ; 2 succeeded · 0 active · 0 failed | 2 succeeded · 0 active · 0 failed ; Complete | Complete"
	if err := within(tab, 30*time.Second, chromedp.Poll[chromedp.Void](open)); err != nil {
		t.Fatalf("the dashboard never listed batch/report: %v", err)
	}
	if err := within(tab, 30*time.Second, chromedp.Poll[chromedp.Void](shown+` === `+strconv.Quote(want))); err != nil {
		got, _ := run(tab, chromedp.Evaluate[string](shown))
		t.Fatalf("the dashboard's card of batch/report shows %q, want %q: %v", got, want, err)
	}

	// A DaemonSet in both clusters: a pod on each Node.
	if out, err := atoll("apply", "-f", write("agent.yaml", agentDaemonSet), "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("apply the DaemonSet: %v\n%s", err, out)
	}
	if err := f.waitFor(ctx, "the DaemonSet's pods on every Node, as site 1 sees it", func(map[int]site.State) bool {
		v, err := f.Client(1).View(ctx)
		if err != nil {
			return false
		}
		var counts []string
		for _, w := range v.Workloads {
			if w.Namespace == "batch" && w.Name == "agent" {
				for _, s := range w.Sites {
					for _, c := range s.Clusters {
						counts = append(counts, fmt.Sprintf("%s/%s %d/%d", s.Name, c.Name, c.Ready, c.Desired))
					}
				}
				last = fmt.Sprintf("%v, total %d/%d", counts, w.Ready, w.Desired)
				want := fmt.Sprintf("[%s/c0 %d/%d %s/c1 %d/%d], total %d/%d", f.Names[0], nodes, nodes, f.Names[1], nodes, nodes, 2*nodes, 2*nodes)
				return last == want
			}
		}
		return false
	}); err != nil {
		t.Fatalf("%v; last %s", err, last)
	}
}
