package interpret

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func load(t *testing.T, file string) *Customization {
	t.Helper()
	b, err := os.ReadFile("../examples/interpreter/" + file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func obj(t *testing.T, y string) Object {
	t.Helper()
	var o Object
	if err := yaml.Unmarshal([]byte(y), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const rollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop, generation: 3}
spec:
  replicas: 5
  template:
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: registry.invalid/web:1
        resources: {requests: {cpu: 250m, memory: 64Mi}}
        envFrom: [{configMapRef: {name: web-config}}]
        env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: web-token, key: t}}}]
      nodeSelector: {disk: ssd}
      volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]
status: {phase: Healthy, replicas: 5, readyReplicas: 5, availableReplicas: 5, updatedReplicas: 5, message: ok}
`

// TestArgoRollout runs every operation of the Rollout customization written here.
func TestArgoRollout(t *testing.T) {
	c := load(t, "argo-rollout.yaml")
	if c.APIVersion != "argoproj.io/v1alpha1" || c.Kind != "Rollout" || len(c.Scripts) != 7 {
		t.Fatalf("target %s %s, %d scripts", c.APIVersion, c.Kind, len(c.Scripts))
	}
	o := obj(t, rollout)
	n, req, err := c.GetReplicas(o)
	cpu, mem := req.ResourceRequest["cpu"], req.ResourceRequest["memory"]
	if err != nil || n != 5 || cpu.String() != "250m" || mem.String() != "64Mi" ||
		js(req.NodeClaim) != `{"nodeSelector":{"disk":"ssd"}}` {
		t.Fatalf("GetReplicas: %d, %+v, %v", n, req, err)
	}
	revised, err := c.ReviseReplica(o, 2)
	if err != nil || js(revised["spec"].(map[string]any)["replicas"]) != "2" {
		t.Fatalf("ReviseReplica: %v, %v", revised["spec"], err)
	}
	observed := obj(t, rollout)
	observed["spec"].(map[string]any)["paused"] = true
	kept, err := c.Retain(obj(t, rollout), observed)
	if err != nil || kept["spec"].(map[string]any)["paused"] != true {
		t.Fatalf("Retain: %v, %v", kept["spec"], err)
	}
	st, err := c.ReflectStatus(o)
	if err != nil || js(st) != `{"availableReplicas":5,"message":"ok","phase":"Healthy","readyReplicas":5,"replicas":5,"updatedReplicas":5}` {
		t.Fatalf("ReflectStatus: %s, %v", js(st), err)
	}
	agg, err := c.AggregateStatus(obj(t, rollout), []StatusItem{
		{ClusterName: "a/x", Applied: true, Health: "Healthy", Status: map[string]any{"replicas": 3, "availableReplicas": 3, "phase": "Healthy"}},
		{ClusterName: "b/y", Applied: true, Health: "Unhealthy", Status: map[string]any{"replicas": 2, "availableReplicas": 1, "phase": "Progressing"}},
	})
	if err != nil || js(agg["status"]) != `{"availableReplicas":4,"phase":"Progressing","readyReplicas":0,"replicas":5,"updatedReplicas":0}` {
		t.Fatalf("AggregateStatus: %s, %v", js(agg["status"]), err)
	}
	if ok, err := c.InterpretHealth(o); err != nil || !ok {
		t.Fatalf("InterpretHealth of a healthy Rollout: %v, %v", ok, err)
	}
	o["status"].(map[string]any)["availableReplicas"] = 4
	if ok, err := c.InterpretHealth(o); err != nil || ok {
		t.Fatalf("InterpretHealth with 4 of 5 available: %v, %v", ok, err)
	}
	deps, err := c.GetDependencies(o)
	if err != nil || js(deps) != `[{"APIVersion":"v1","Kind":"ServiceAccount","Namespace":"shop","Name":"web"},`+
		`{"APIVersion":"v1","Kind":"PersistentVolumeClaim","Namespace":"shop","Name":"web-data"},`+
		`{"APIVersion":"v1","Kind":"ConfigMap","Namespace":"shop","Name":"web-config"},`+
		`{"APIVersion":"v1","Kind":"Secret","Namespace":"shop","Name":"web-token"}]` {
		t.Fatalf("GetDependencies: %s, %v", js(deps), err)
	}
}

// TestCNPGCluster runs the CloudNativePG Cluster customization written here.
func TestCNPGCluster(t *testing.T) {
	c := load(t, "cnpg-cluster.yaml")
	o := obj(t, `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: db, namespace: shop}
spec:
  instances: 3
  resources: {requests: {cpu: "1", memory: 2Gi}}
  superuserSecret: {name: db-super}
  bootstrap: {initdb: {database: app, secret: {name: db-app}}}
status: {instances: 3, readyInstances: 3, phase: Cluster in healthy state}
`)
	n, req, err := c.GetReplicas(o)
	if mem := req.ResourceRequest["memory"]; err != nil || n != 3 || mem.String() != "2Gi" {
		t.Fatalf("GetReplicas: %d %+v %v", n, req, err)
	}
	if r, err := c.ReviseReplica(o, 1); err != nil || js(r["spec"].(map[string]any)["instances"]) != "1" {
		t.Fatalf("ReviseReplica: %v %v", r, err)
	}
	if ok, err := c.InterpretHealth(o); err != nil || !ok {
		t.Fatalf("InterpretHealth: %v %v", ok, err)
	}
	deps, err := c.GetDependencies(o)
	if err != nil || len(deps) != 2 || deps[0].Name != "db-super" || deps[1].Name != "db-app" {
		t.Fatalf("GetDependencies: %+v %v", deps, err)
	}
	agg, err := c.AggregateStatus(o, []StatusItem{{ClusterName: "a/x", Status: map[string]any{"instances": 3, "readyInstances": 2, "phase": "Setting up primary"}}})
	if err != nil || js(agg["status"]) != `{"instances":3,"phase":"Not every cluster is healthy","readyInstances":2}` {
		t.Fatalf("AggregateStatus: %s %v", js(agg["status"]), err)
	}
	if _, err := c.Retain(o, o); !errors.Is(err, ErrNotCustomized) {
		t.Fatalf("Retain, not customized: %v", err)
	}
}

// custom is a customization of one operation with script.
func custom(op Op, script string) string {
	return `apiVersion: config.karmada.io/v1alpha1
kind: ResourceInterpreterCustomization
metadata: {name: hostile}
spec:
  target: {apiVersion: example.com/v1, kind: Thing}
  customizations:
    ` + string(op) + `:
      luaScript: |
` + indent(script, "        ")
}

func indent(s, p string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = p + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestDecodeNamesTheField: a customization that cannot be used is refused with the field
// that is wrong.
func TestDecodeNamesTheField(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{custom(OpHealth, "function InterpretHealth(o) return true end") + "  bogus: 1\n", "unknown field \"bogus\""},
		{strings.Replace(custom(OpHealth, "function InterpretHealth(o) return true end"), "healthInterpretation", "componentResource", 1),
			"spec.customizations.componentResource: not an operation Atoll interprets"},
		{custom(OpHealth, "function InterpretHealth(o) return true"), "spec.customizations.healthInterpretation.luaScript: does not parse"},
		{custom(OpHealth, "function Health(o) return true end"), "spec.customizations.healthInterpretation.luaScript: the script defines no function InterpretHealth"},
		{custom(OpHealth, "while true do end"), "healthInterpretation.luaScript: the script ran over"},
		{strings.Replace(custom(OpHealth, "function InterpretHealth(o) return true end"), "kind: Thing", "kind: \"\"", 1), "spec.target.apiVersion and spec.target.kind are required"},
		{strings.Replace(custom(OpHealth, "function InterpretHealth(o) return true end"), "config.karmada.io/v1alpha1", "policy.karmada.io/v1alpha1", 1), "want config.karmada.io/v1alpha1 ResourceInterpreterCustomization"},
		{custom(OpHealth, "-- "+strings.Repeat("x", MaxScriptBytes)+"\nfunction InterpretHealth(o) return true end"), "above the limit"},
	} {
		if _, err := Decode([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode: %v\nwant an error with %q", err, tc.want)
		}
	}
}

// TestHostileScripts: a script that tries to reach outside, loop, allocate without end or
// turn the object into another gets an error, promptly, and the process is unharmed.
func TestHostileScripts(t *testing.T) {
	thing := Object{"apiVersion": "example.com/v1", "kind": "Thing", "metadata": map[string]any{"name": "a", "namespace": "shop"}, "spec": map[string]any{}}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"os", `return os.execute("true")`, "attempt to index a non-table object(nil) with key 'execute'"},
		{"io", `return io.open("/etc/passwd")`, "attempt to index a non-table object(nil) with key 'open'"},
		{"load", `return load("return 1")()`, "attempt to call a non-function object"},
		{"dofile", `return dofile("/etc/passwd")`, "attempt to call a non-function object"},
		{"require", `return require("os")`, "only the library \"kube\" may be required"},
		{"loop", `while true do end`, "the script ran over"},
		{"recursion", `local function f() return 1 + f() end return f()`, "stack overflow"},
		{"rep", `return string.rep("x", 1e9)`, "string.rep: 1000000000 bytes, above the limit"},
		{"format", `return string.format("%999999999d", 1)`, "string.format: a width or precision"},
		// On a loaded machine the deadline may come first: either stops it.
		{"tables", `local t = {} local i = 0 while true do i = i + 1 t[i] = {i, i, i, i} end`, "allocated more than|ran over"},
		{"concat", `local s = "x" while true do s = s .. s end`, "allocated more than|ran over"},
		{"metatable", `return setmetatable({}, {})`, "attempt to call a non-function object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode([]byte(custom(OpHealth, "function InterpretHealth(o)\n"+tc.body+"\nend")))
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			_, err = c.InterpretHealth(thing)
			if err == nil || !slices.ContainsFunc(strings.Split(tc.want, "|"), func(w string) bool { return strings.Contains(err.Error(), w) }) {
				t.Fatalf("%v\nwant an error with %q", err, tc.want)
			}
			t.Logf("refused after %v: %v", time.Since(begin).Round(time.Millisecond), err)
		})
	}
	// An object turned into another is refused.
	for _, body := range []string{`o.kind = "Secret" return o`, `o.metadata.namespace = "kube-system" return o`, `o.metadata.name = "b" return o`} {
		c, err := Decode([]byte(custom(OpReplicaRevision, "function ReviseReplica(o, n)\n"+body+"\nend")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReviseReplica(thing, 1); err == nil || !strings.Contains(err.Error(), "a script may not change what the object is") {
			t.Errorf("%s: %v", body, err)
		}
	}
	// Replicas out of range, dependencies in another namespace, a result that is no
	// JSON value.
	for _, tc := range []struct {
		op         Op
		body, want string
	}{
		{OpReplicaResource, "function GetReplicas(o) return -1, nil end", "want a whole number from 0"},
		{OpReplicaResource, "function GetReplicas(o) return 1.5, nil end", "want a whole number from 0"},
		{OpReplicaResource, "function GetReplicas(o) return 1e12, nil end", "want a whole number from 0"},
		{OpReplicaResource, "function GetReplicas(o) return 1, {resourceRequest = {cpu = 'lots'}} end", "requirements.resourceRequest.cpu: \"lots\" is not a quantity"},
		{OpDependencies, "function GetDependencies(o) return {{apiVersion = 'v1', kind = 'Secret', namespace = 'kube-system', name = 'x'}} end", "want the object's own"},
		{OpStatusReflection, "function ReflectStatus(o) return {x = 0/0} end", "is not a JSON number"},
		{OpStatusReflection, "function ReflectStatus(o) return {f = function() end} end", "a function cannot be returned"},
	} {
		c, err := Decode([]byte(custom(tc.op, tc.body)))
		if err != nil {
			t.Fatal(err)
		}
		switch tc.op {
		case OpReplicaResource:
			_, _, err = c.GetReplicas(thing)
		case OpDependencies:
			_, err = c.GetDependencies(thing)
		case OpStatusReflection:
			_, err = c.ReflectStatus(thing)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant an error with %q", tc.body, err, tc.want)
		}
	}
}

// TestEmptyTables: an empty table returned where the input held a list is a list.
func TestEmptyTables(t *testing.T) {
	c, err := Decode([]byte(custom(OpRetention, "function Retain(d, o)\nd.spec.ports = {}\nd.spec.labels = {}\nreturn d\nend")))
	if err != nil {
		t.Fatal(err)
	}
	d := Object{"apiVersion": "v1", "kind": "Thing", "metadata": map[string]any{"name": "a"}, "spec": map[string]any{"ports": []any{1}, "labels": map[string]any{"a": "b"}}}
	out, err := c.Retain(d, d)
	if err != nil || js(out["spec"]) != `{"labels":{},"ports":[]}` {
		t.Fatalf("Retain: %s, %v", js(out["spec"]), err)
	}
}
