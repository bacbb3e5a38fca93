package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atoll/site"
)

// secretsYAML has Secret values and bounded bodies, each carrying the canary (CANARY is
// replaced by a fresh one per run), and a ConfigMap whose value is served (VISIBLE).
const secretsYAML = `apiVersion: v1
kind: Secret
metadata: {name: db-creds, namespace: shop}
type: Opaque
stringData: {password: CANARY-string}
data: {token: B64TOKEN}
---
apiVersion: v1
kind: Secret
metadata: {name: vault, namespace: pay, annotations: {atoll.io/bound: EU}}
stringData: {key: CANARY-bounded}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: pay, annotations: {atoll.io/bound: EU}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      containers:
      - name: ledger
        image: registry.invalid/ledger:1
        env: [{name: SEALED, value: CANARY-sealed-env}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {mode: VISIBLE}
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: creds, namespace: shop}
spec:
  resourceSelectors:
  - {apiVersion: v1, kind: Secret, name: db-creds}
  overrideRules:
  - overriders:
      plaintext:
      - {path: /stringData/extra, operator: add, value: CANARY-override}
`

// readRoutes are the GET routes of the sites' muxes, as registered in site/*.go, and
// whether the crawl below fetches them. A new route fails the test until it is crawled.
var readRoutes = map[string]bool{
	"/healthz": true, "/readyz": true, "/v1/state": true, "/v1/view": true, "/v1/events": true,
	"/v1/stream": true, "/v1/changes/{id}": true, "/v1/clusters": true,
	"/v1/placement/{namespace}/{name}": true, "/v1/audit": true, "/v1/tip": true, "/v1/whoami": true, "/v1/charter": true,
	"/v1/login/methods": true, "/v1/oidc/login": true, "/v1/oidc/callback": true, // not configured here: their answers are crawled all the same
	"/v1/objects/{kind}/{key...}": true, "/v1/policies": true, "/metrics": true, "/": true,
	"/v1/backup": false, // the unix socket only (checked): the data file, for who holds the data dir
}

// TestSecretsNeverServed: Secret values (data, stringData, overrides of a Secret) and
// sealed bodies are in no answer of any read route of any site, over HTTP or the unix
// socket, nor in what the CLI prints, the dashboard's DOM or the sites' logs.
func TestSecretsNeverServed(t *testing.T) {
	f := start(t, Options{Sites: 3, HTTP: true}) // s00 EU, s01 US, s02 APAC
	ctx := deadline(t, 3*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	checkRoutesCrawled(t)

	rnd := make([]byte, 8)
	_, _ = rand.Read(rnd)
	canary := "canary" + hex.EncodeToString(rnd)
	token := canary + "-token"
	leaks := []string{canary}
	for _, v := range []string{canary + "-string", token, canary + "-bounded", canary + "-sealed-env", canary + "-override"} {
		leaks = append(leaks, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)))
	}
	manifest := strings.NewReplacer("CANARY", canary, "B64TOKEN", base64.StdEncoding.EncodeToString([]byte(token))).Replace(secretsYAML)
	path := filepath.Join(t.TempDir(), "secrets.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeContexts(t, f, 0) // s00 is in the EU bound
	atoll := func(args ...string) (string, string, error) {
		return cliRun(ctx, append([]string{"--atollconfig", cfg}, args...)...)
	}
	out, errOut, err := atoll("apply", "-f", path)
	if err != nil {
		t.Fatalf("apply: %v\n%s%s", err, out, errOut)
	}
	var ids []string
	for _, m := range regexp.MustCompile(`change ([0-9a-f]{64}) accepted`).FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	if len(ids) != 2 {
		t.Fatalf("apply: want two changes (unbounded, EU-bound), got %q", out)
	}
	keys := []string{"shop/secret.db-creds", "pay/secret.vault", "pay/ledger", "shop/configmap.settings"}
	for i := range f.Names {
		for _, id := range ids {
			if held, err := f.Client(i).Held(ctx, id, 30*time.Second); err != nil || !held.Held {
				t.Fatalf("%s never held %s: %+v, %v", f.Names[i], id, held, err)
			}
		}
		if err := poll(ctx, func() bool {
			v, err := f.Client(i).View(ctx)
			return err == nil && len(v.Workloads) == len(keys)
		}); err != nil {
			t.Fatalf("%s: the workloads never showed", f.Names[i])
		}
	}
	// The bodies are at s00 (EU) and only there: what it withholds it holds.
	if held, err := f.Client(0).Held(ctx, ids[1], 0); err != nil || !held.Bodies {
		t.Fatalf("s00 should hold the EU-bound bodies: %+v, %v", held, err)
	}

	served := map[string]string{} // where -> what it answered
	for i := range f.Names {
		sock := socketHTTP(f.Client(i).Socket)
		for _, api := range []struct {
			name, base string
			c          *http.Client
		}{{"http", f.URL(i), f.HTTP()}, {"socket", "http://site", sock}} {
			crawl(ctx, t, served, fmt.Sprintf("%s %s", f.Names[i], api.name), api.base, api.c, keys, ids)
		}
		// The backup is the data file: the socket only.
		code, body := get(ctx, f.HTTP(), f.URL(i)+"/v1/backup")
		served[f.Names[i]+" http /v1/backup"] = body
		if code != http.StatusNotFound {
			t.Errorf("%s: GET /v1/backup over HTTP answered %d; want 404 (the socket only)", f.Names[i], code)
		}
		if code, _ := get(ctx, sock, "http://site/v1/backup"); code != http.StatusOK {
			t.Errorf("%s: GET /v1/backup on the socket answered %d", f.Names[i], code)
		}
	}
	// The CLI, through each site's HTTP server and through s00's socket.
	for _, c := range append(slices.Clone(f.Names), "local-0") {
		for _, args := range [][]string{
			{"get", "workloads", "-o", "yaml"}, {"get", "workloads", "-o", "json"}, {"get", "status", "-o", "yaml"},
			{"get", "events", "-o", "json"}, {"describe", "workload", "shop/secret.db-creds"},
			{"describe", "workload", "pay/secret.vault"}, {"describe", "workload", "pay/ledger"},
		} {
			out, errOut, err := atoll(append(args, "--context", c)...)
			if err != nil {
				t.Errorf("%s --context %s: %v\n%s", strings.Join(args, " "), c, err, errOut)
			}
			served[fmt.Sprintf("cli %s --context %s", strings.Join(args, " "), c)] = out + errOut
		}
	}
	// describe says what the API withholds.
	for key, want := range map[string]string{
		"cli describe workload shop/secret.db-creds --context s01": "Body:      served with Secret values redacted",
		"cli describe workload pay/ledger --context s00":           "Body:      sealed, never served; held at this site",
		"cli describe workload pay/secret.vault --context s01":     "Body:      sealed, never served; this site holds the signed header only",
		"cli describe workload pay/ledger --context local-0":       "held at this site",
	} {
		if !strings.Contains(served[key], want) {
			t.Errorf("%s: want %q in\n%s", key, want, served[key])
		}
	}
	served["dashboard DOM at s00"] = dashboardText(ctx, t, f, 0)
	for i := range f.Names {
		b, _ := os.ReadFile(strings.TrimSuffix(f.Config(i), ".yaml") + ".log")
		served[f.Names[i]+" log"] = string(b)
	}

	for where, body := range served {
		for _, leak := range leaks {
			if strings.Contains(body, leak) {
				i := strings.Index(body, leak)
				t.Errorf("%s: %q in %s", where, leak, excerpt(body, i))
			}
		}
	}
	// Not vacuous: what is not a Secret value is served, and Secret keys are.
	obj := served["s01 http /v1/objects/workload/shop/configmap.settings"]
	sec := served["s00 socket /v1/objects/workload/shop/secret.db-creds"]
	if !strings.Contains(obj, "VISIBLE") || !strings.Contains(sec, "password") || !strings.Contains(sec, "redacted: ") {
		t.Errorf("the ConfigMap's template should be served, the Secret's keys with markers:\n%s\n%s", obj, sec)
	}
	t.Logf("crawled %d answers; e.g. the Secret at s00 over the socket: %s", len(served), sec)
}

// checkRoutesCrawled fails if site/*.go registers a GET route readRoutes does not know.
func checkRoutesCrawled(t *testing.T) {
	files, err := filepath.Glob("../site/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("site sources: %v", err)
	}
	re := regexp.MustCompile(`Handle(?:Func)?\("GET (/[^"]*)"`)
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if _, ok := readRoutes[m[1]]; !ok {
				t.Errorf("%s registers GET %s, which TestSecretsNeverServed does not crawl", file, m[1])
			}
		}
	}
}

// crawl fetches every read route of one API into served, keyed "<who> <path>".
func crawl(ctx context.Context, t *testing.T, served map[string]string, who, base string, c *http.Client, keys, ids []string) {
	t.Helper()
	fetch := func(path string) string {
		code, body := get(ctx, c, base+path)
		served[who+" "+path] = body
		absent := code == http.StatusNotFound && (strings.HasPrefix(path, "/v1/objects/site/") || // sites that wrote no labels
			strings.HasPrefix(path, "/v1/oidc/") || // served only with oidc: in site.yaml
			path == "/v1/login/methods" && strings.HasSuffix(who, "socket")) // the HTTP server's sign-in only
		if code != http.StatusOK && path != "/readyz" && !absent {
			t.Errorf("%s %s: %d %s", who, path, code, body)
		}
		return body
	}
	for _, p := range []string{"/healthz", "/readyz", "/v1/events", "/v1/audit", "/v1/tip", "/v1/clusters", "/v1/whoami", "/v1/charter", "/v1/login/methods", "/v1/oidc/login", "/v1/oidc/callback"} {
		fetch(p)
	}
	var st site.State
	if err := json.Unmarshal([]byte(fetch("/v1/state")), &st); err != nil {
		t.Fatalf("%s /v1/state: %v", who, err)
	}
	var v site.View
	if err := json.Unmarshal([]byte(fetch("/v1/view")), &v); err != nil {
		t.Fatalf("%s /v1/view: %v", who, err)
	}
	served[who+" /v1/stream"] = firstEvent(ctx, t, c, base+"/v1/stream")
	for _, id := range append(slices.Clone(ids), st.Heads...) {
		fetch("/v1/changes/" + id)
	}
	objects := []string{"charter/"}
	for _, s := range v.Sites {
		objects = append(objects, "site/"+s.Name)
	}
	for _, cl := range v.Clusters {
		objects = append(objects, "cluster/"+cl.Site+"/"+cl.Name)
	}
	for _, w := range v.Workloads {
		key := w.Namespace + "/" + w.Name
		objects = append(objects, "workload/"+key)
		fetch("/v1/placement/" + key)
		for _, s := range w.Sites {
			for _, cl := range s.Clusters {
				objects = append(objects, "status/"+key+"/"+s.Name+"/"+cl.Name)
			}
		}
	}
	var pols []site.PolicyReport
	if err := json.Unmarshal([]byte(fetch("/v1/policies")), &pols); err != nil {
		t.Fatalf("%s /v1/policies: %v", who, err)
	}
	for _, p := range pols {
		objects = append(objects, "policy/"+p.Key)
	}
	for _, k := range keys {
		if !slices.Contains(objects, "workload/"+k) {
			t.Errorf("%s: workload %s not in the view", who, k)
		}
	}
	for _, o := range objects {
		fetch("/v1/objects/" + o)
	}
	if !strings.HasPrefix(who, "s") || !strings.Contains(who, "http") {
		return
	}
	fetch("/metrics")
	for _, p := range []string{"/", "/index.html", "/app.js", "/style.css"} {
		_, body := get(ctx, c, base+p)
		served[who+" "+p] = body
	}
}

// get fetches url with c and returns the status and body ("" with the error's text in
// served if the request failed).
func get(ctx context.Context, c *http.Client, u string) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, string(b)
}

// firstEvent reads a stream up to the end of its first event.
func firstEvent(ctx context.Context, t *testing.T, c *http.Client, u string) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("%s: %v", u, err)
		return ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "data: ") {
			return b.String()
		}
	}
	t.Errorf("%s: no event: %v", u, sc.Err())
	return b.String()
}

// socketHTTP is an HTTP client over a site's unix socket.
func socketHTTP(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
}

// dashboardText loads site i's dashboard in a headless browser, signed in as the
// federation's admin (who may see the most), and returns its DOM's text and markup once
// it shows the workloads.
func dashboardText(ctx context.Context, t *testing.T, f *Fed, i int) string {
	if _, err := os.Stat(chromium); err != nil {
		t.Logf("no browser (%v): the dashboard's DOM is not searched", err)
		return ""
	}
	tok, err := f.Token("admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tab := browser(t)
	if err := signIn(tab, f.URL(i), tok); err != nil {
		t.Errorf("dashboard: %v", err)
		return ""
	}
	const js = `document.documentElement.outerHTML + "\n" + document.body.innerText`
	var page string
	if err := poll(ctx, func() bool {
		p, err := run(tab, chromedp.Evaluate[string](js))
		page = p
		return err == nil && strings.Contains(p, "secret.vault") && strings.Contains(p, "configmap.settings")
	}); err != nil {
		t.Errorf("the dashboard never showed the workloads")
	}
	return page
}

func excerpt(s string, i int) string {
	return s[max(0, i-120):min(len(s), i+120)]
}
