package site

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/interpret"
	"atoll/scheduler"
	"atoll/site/kube"
)

// schedState builds the scheduler's view of the federation: the charter's sites with
// this site's view of their liveness, and every cluster of the replicated state. mu must
// be held.
func (s *Site) schedState(alive map[string]bool) *scheduler.State {
	ch := s.rep.Charter()
	st := &scheduler.State{Now: time.Now()}
	jur := map[string]string{}
	for _, name := range ch.SiteNames() {
		info, _ := ch.SiteByName(name)
		jur[name] = info.Jurisdiction
		st.Sites = append(st.Sites, scheduler.Site{Name: name, Region: info.Region, Jurisdiction: info.Jurisdiction,
			Alive: name == s.cfg.Name || alive[name], Draining: info.Draining})
	}
	for _, v := range s.clusterViewsLocked() {
		if _, ok := jur[v.Site]; !ok {
			continue // a site no longer in the charter
		}
		c := scheduler.Cluster{Site: v.Site, Name: v.Name, Jurisdiction: jur[v.Site], Labels: v.Labels, Healthy: v.Healthy,
			Provider: v.Provider, Region: v.Region, Zone: v.Zone, Available: scheduler.Resources{}}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, t := range v.Taints { // key=value:Effect
			key, rest, _ := strings.Cut(t, "=")
			value, effect, _ := strings.Cut(rest, ":")
			since, _ := time.Parse(time.RFC3339, v.TaintedAt[key]) // zero if absent: never runs out
			c.Taints = append(c.Taints, scheduler.Taint{Key: key, Value: value, Effect: effect, Since: since})
		}
		for r, val := range v.Available { // bounded by kube.ReadCapacity
			if q, err := resource.ParseQuantity(val); err == nil {
				c.Available[r] = amount(r, q)
			}
		}
		slices.SortFunc(c.Taints, func(a, b scheduler.Taint) int { return strings.Compare(a.Key, b.Key) })
		st.Clusters = append(st.Clusters, c)
	}
	return st // Keys are sorted, so clusters are sorted by site, then name
}

// amount is a quantity in the scheduler's units: millicores for cpu, units otherwise
// (bytes for memory, whole units for extended resources).
func amount(r string, q resource.Quantity) int64 {
	if r == "cpu" {
		return q.MilliValue()
	}
	return q.Value()
}

// workload is one workload as the reconciler needs it: what to render and what to schedule.
type workload struct {
	render   kube.Workload
	sched    scheduler.Workload
	err      error  // why it cannot be scheduled (a malformed placement, a refusal)
	refusal  string // err is a refusal to record, of this kind: limit, residency or policy
	unplaced string // why no policy places it: stored, but not divided (not an error)
	kind     string
	redacted bool              // this site holds the header only: the bound excludes it
	refusals map[string]string // "<site>/<cluster>" -> why that site refuses to run it there
	// job is what a Job's template says of its completions (zero for other kinds, and
	// where the site holds no body).
	job jobSpec
	// jobs are a Job's counts by "<site>/<cluster>", where its Status holds them (format
	// level crdt.FormatJobs).
	jobs map[string]JobCounts
	// deps are, with propagateDeps, the keys of the workloads its pods refer to (deps.go).
	deps []string
	// reflected is, by "<site>/<cluster>", the status a stored customization's
	// statusReflection read there (JSON; format level crdt.FormatStatusReflection).
	reflected map[string]string
	// digest is sched.Status's (observed); 0 if not taken (passCache: a new version).
	digest uint64
}

// workloadsLocked reads every workload of the replicated state with the status the sites
// report for it. mu must be held.
func (s *Site) workloadsLocked() []workload {
	ch := s.rep.Charter()
	limit, format := ch.MaxReplicas(), ch.Format()
	status := map[string]*observed{}
	refused := map[string]map[string]string{}
	jobs := map[string]map[string]JobCounts{}
	reflected := map[string]map[string]string{}
	s.rep.EachStatus(func(key string, obj crdt.StatusFields) {
		wk, site, _, ok := splitStatus(key)
		if !ok {
			return
		}
		if _, ok := ch.SiteByName(site); !ok {
			return // reported by a site the charter no longer lists: it runs nothing for us
		}
		rs := status[wk]
		if rs == nil {
			rs = newObserved()
			status[wk] = rs
		}
		at := key[len(wk)+1:] // site/cluster, a slice of the key: no copy per status object
		if string(obj.Get("reason")) == StatusRefused {
			if refused[wk] == nil {
				refused[wk] = map[string]string{}
			}
			refused[wk][at] = string(obj.Get("message"))
		}
		// What a site reports is clamped to what any workload may have: a negative or huge
		// count from a faulty site must not overflow the sums of the division.
		num := func(f string) int {
			n, _ := strconv.Atoi(string(obj.Get(f)))
			return min(max(n, 0), crdt.MaxMaxReplicas)
		}
		rs.add(at, scheduler.Observed{Desired: num("desired"), Ready: num("ready"),
			UnhealthySince: timeField(obj, crdt.UnhealthySince), EvictedAt: timeField(obj, crdt.EvictedAt)})
		if r := obj.Get(crdt.Reflected); r != nil {
			if reflected[wk] == nil {
				reflected[wk] = map[string]string{}
			}
			reflected[wk][at] = string(r)
		}
		if obj.Get("active") != nil { // a Job's, from format level crdt.FormatJobs
			if jobs[wk] == nil {
				jobs[wk] = map[string]JobCounts{}
			}
			jobs[wk][at] = readJobCounts(string(obj.Get("conditions")), num("active"), num("succeeded"), num("failed"))
		}
	})
	pols := s.policySet()
	depsBudget := maxDepsTime // of dependency scripts this pass (deps.go)
	var out []workload
	for _, key := range s.rep.Keys(crdt.KindWorkload, "") {
		obj, _ := s.rep.Object(crdt.KindWorkload, key)
		ns, name, _ := strings.Cut(key, "/")
		w := workload{render: kube.Workload{Namespace: ns, Name: name}}
		rv, ok := obj["replicas"]
		r, err := kube.ParseReplicas(string(rv.Bytes), ok, limit)
		if err != nil {
			// Stored by an earlier release, or above a limit the charter lowered since:
			// refused, never divided (plan records why).
			w.sched, w.err, w.refusal = scheduler.Workload{Key: key, Replicas: 0}, fmt.Errorf("refused: %w", err), "limit"
			out = append(out, w)
			continue
		}
		w.render.Replicas = r
		if v, ok := obj["template"]; ok && !v.Redacted {
			w.render.Template = v.Bytes
		} else if ok {
			w.redacted = true
		}
		if v, ok := obj["bound"]; ok && len(v.Bytes) > 0 {
			w.render.Bound = strings.Split(string(v.Bytes), ",")
		}
		var newest uint64
		for _, v := range obj {
			if v.Lamport >= newest {
				newest, w.render.Change = v.Lamport, v.Change.Hex()
			}
		}
		kind := string(obj["kind"].Bytes)
		w.render.Kind, w.render.APIVersion = kind, string(obj["apiVersion"].Bytes)
		var reqs scheduler.Resources
		var deps []interpret.Named
		if w.render.Template != nil {
			t := s.inspected(key, obj["template"].Change, w.render.Template)
			kind, reqs, deps, w.job = cmp.Or(kind, t.kind), t.requests, t.deps, t.job
		}
		w.kind = kind
		w.render.Format = format
		if c := pols.Interpreters().For(w.render.APIVersion, kind, interpret.OpReplicaRevision); c != nil && format >= crdt.FormatInterpreter {
			w.render.Revise = c.ReviseReplica // a custom kind divided as its stored customization says
		}
		w.refusals, w.jobs, w.reflected = refused[key], jobs[key], reflected[key]
		w.sched = scheduler.Workload{Key: key, Replicas: r, Bound: w.render.Bound, Request: reqs}
		w.sched.Status, w.digest = status[key].reports()
		if !w.render.Divides(kind) {
			w.sched.Replicas = -1
		}
		if s.resolve(&w, key, obj, pols, format) {
			if c := pols.Interpreters().For(w.render.APIVersion, kind, interpret.OpDependencies); c != nil && deps == nil && w.render.Template != nil {
				deps = s.interpretedDeps(key, c, w.render.Template, &depsBudget)
			}
			w.deps = depKeys(ns, deps)
		}
		out = append(out, w)
	}
	if len(s.templates) > len(out) { // some workload is gone
		live := make(map[string]bool, len(out))
		for _, w := range out {
			live[w.sched.Key] = true
		}
		for key := range s.templates {
			if !live[key] {
				delete(s.templates, key)
			}
		}
	}
	return out
}

// template is what the scheduler reads from a workload's template.
type template struct {
	change   crdt.Hash // the change that wrote the template
	kind     string
	requests scheduler.Resources
	deps     []interpret.Named // what its pods refer to
	job      jobSpec
	// depsBy is the customization whose dependencyInterpretation gave customDeps (deps.go).
	depsBy     *interpret.Customization
	customDeps []interpret.Named
}

// jobSpec is what dividing a Job reads of its template.
type jobSpec struct {
	completions    int    // spec.completions; 0 if unset (a work queue: no count to divide)
	completionMode string // spec.completionMode
}

// readJob reads a Job template's completions and completion mode.
func readJob(template []byte) jobSpec {
	var m struct {
		Spec struct {
			Completions    *int64 `json:"completions"`
			CompletionMode string `json:"completionMode"`
		} `json:"spec"`
	}
	if yaml.Unmarshal(template, &m) != nil {
		return jobSpec{}
	}
	j := jobSpec{completionMode: m.Spec.CompletionMode}
	if c := m.Spec.Completions; c != nil && *c > 0 && *c < 1<<31 {
		j.completions = int(*c)
	}
	return j
}

// inspected returns what inspect reads from a workload's template, parsing it only when
// a new change wrote it: every reconcile pass reads every workload. mu must be held.
func (s *Site) inspected(key string, change crdt.Hash, b []byte) template {
	if t, ok := s.templates[key]; ok && t.change == change {
		return t
	}
	t := template{change: change, deps: podDeps(b)}
	t.customDeps = s.templates[key].customDeps // stand until interpretedDeps runs again (deps.go)
	t.kind, t.requests = inspect(b)
	if t.kind == "Job" {
		t.job = readJob(b)
	}
	s.templates[key] = t
	return t
}

// inspect returns a template's kind and the resource requests of one replica, in the
// scheduler's units (nil if none): its containers' requests summed, or an init
// container's if larger, as the Kubernetes scheduler counts them; a limit without a
// request is the request, as the API server defaults it (extended resources such as
// nvidia.com/gpu are asked for through limits).
func inspect(template []byte) (kind string, _ scheduler.Resources) {
	var m map[string]any
	if yaml.Unmarshal(template, &m) != nil {
		return "", nil
	}
	kind, _ = m["kind"].(string)
	out := scheduler.Resources{}
	cs, _, _ := unstructured.NestedSlice(m, "spec", "template", "spec", "containers")
	for _, c := range cs {
		for r, n := range containerRequests(c) {
			out[r] = satAdd(out[r], n)
		}
	}
	inits, _, _ := unstructured.NestedSlice(m, "spec", "template", "spec", "initContainers")
	for _, c := range inits {
		for r, n := range containerRequests(c) {
			out[r] = max(out[r], n)
		}
	}
	if len(out) == 0 {
		return kind, nil
	}
	return kind, out
}

// containerRequests reads a container's requests, and its limits for what it does not
// request, in the scheduler's units; values that are not quantities are left out.
func containerRequests(c any) map[string]int64 {
	cm, _ := c.(map[string]any)
	out := map[string]int64{}
	for _, field := range []string{"requests", "limits"} {
		l, _, _ := unstructured.NestedMap(cm, "resources", field)
		for r, v := range l {
			if _, ok := out[r]; ok {
				continue
			}
			var s string
			switch v := v.(type) {
			case string:
				s = v
			case float64: // a bare number in the YAML: nvidia.com/gpu: 1
				s = strconv.FormatFloat(v, 'f', -1, 64)
			case int64:
				s = strconv.FormatInt(v, 10)
			default:
				continue
			}
			if q, err := resource.ParseQuantity(s); err == nil {
				out[r] = max(request(r, q), 0)
			}
		}
	}
	return out
}

// request is one replica's request of a resource in the scheduler's units. An extended
// resource asked for in anything but whole units up to kube.MaxExtendedUnits fits no
// cluster: Kubernetes would not admit the pod either.
func request(r string, q resource.Quantity) int64 {
	if !scheduler.Extended(r) {
		return amount(r, q)
	}
	n, err := kube.ParseUnits(q.String())
	if err != nil {
		return kube.MaxExtendedUnits + 1
	}
	return n
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// aliveView is this site's view of which sites are alive, with hysteresis (core.Alive).
// next is when the view may change by itself (0: it will not).
func (s *Site) aliveView(now time.Time) (alive map[string]bool, next time.Duration) {
	names := s.siteNames()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Alive(now, names, s.cfg.Schedule.Settle.D(), s.cfg.Schedule.Startup.D())
}

// timeField reads an RFC 3339 time of a status object (format level crdt.FormatFailover);
// zero if absent or malformed: a site's faulty time never stands for one.
func timeField(obj crdt.StatusFields, f string) time.Time {
	b := obj.Get(f)
	if b == nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, string(b))
	return t
}

// splitStatus cuts a status key (namespace/name/site/cluster) into its workload's key, its
// site and its cluster, without allocating.
func splitStatus(key string) (workload, site, cluster string, ok bool) {
	ns, rest, ok1 := strings.Cut(key, "/")
	name, rest, ok2 := strings.Cut(rest, "/")
	site, cluster, ok3 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !ok3 || strings.Contains(cluster, "/") {
		return "", "", "", false
	}
	return key[:len(ns)+1+len(name)], site, cluster, true
}
