package e2e

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"atoll/site"
	"atoll/site/token"
)

// call does one request with hc and returns the status, body and headers.
func call(ctx context.Context, t *testing.T, hc *http.Client, method, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), resp.Header
}

// firstStreamView reads the first view of GET /v1/stream.
func firstStreamView(ctx context.Context, t *testing.T, hc *http.Client, url string) site.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/stream", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var v site.View
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("stream ended without a view: %v", sc.Err())
	return site.View{}
}

func workloadNames(v site.View) []string {
	var out []string
	for _, w := range v.Workloads {
		out = append(out, w.Workload)
	}
	return out
}

// TestHTTPIdentity: every read of a site's HTTP server needs a charter identity. An
// anonymous caller gets health only; an operator of shop sees shop and not bank in the
// view, stream, objects, placement, events and audit; an observer sees everything; bad
// tokens are each refused with their own message; the CLI reads as its key's identity.
func TestHTTPIdentity(t *testing.T) {
	f := start(t, Options{Sites: 2, HTTP: true, Observers: []string{"watch"},
		Operators: []OperatorSpec{{"shop", []string{"shop"}}, {"bank", []string{"bank"}}}})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	for name, ns := range map[string]string{"shop": "shop", "bank": "bank"} {
		op, err := newOperatorAs(f, f.Operators[name])
		if err != nil {
			t.Fatal(err)
		}
		wl := map[string]string{"shop": "web", "bank": "ledger"}[ns]
		if err := op.writeWorkload(ctx, 0, ns, wl, 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	url := f.URL(1)
	var all site.View
	if err := poll(ctx, func() bool {
		_, err := getJSON(ctx, f.HTTP(), url+"/v1/view", &all)
		return err == nil && len(all.Workloads) == 2
	}); err != nil {
		t.Fatalf("the admin never saw both workloads at %s: %v", f.Names[1], workloadNames(all))
	}

	// Anonymous: health only.
	anon := &http.Client{Transport: &http.Transport{}}
	for _, p := range []string{"/healthz", "/readyz", "/", "/app.js"} {
		if code, body, _ := call(ctx, t, anon, http.MethodGet, url+p); code != 200 {
			t.Errorf("anonymous GET %s: %d %s", p, code, body)
		}
	}
	id := strings.Repeat("ab", 32)
	for _, r := range []string{"GET /v1/state", "GET /v1/view", "GET /v1/stream", "GET /v1/events", "GET /v1/audit",
		"GET /v1/objects/charter/", "GET /v1/objects/workload/shop/web", "GET /v1/placement/shop/web", "GET /v1/clusters",
		"GET /v1/tip", "GET /v1/changes/" + id, "GET /metrics", "GET /v1/whoami", "POST /v1/changes"} {
		method, p, _ := strings.Cut(r, " ")
		code, body, h := call(ctx, t, anon, method, url+p)
		if code != 401 || !strings.Contains(body, "authentication required") || !strings.HasPrefix(h.Get("WWW-Authenticate"), `Bearer realm="e2e"`) {
			t.Errorf("anonymous %s: %d %s (WWW-Authenticate %q), want 401", r, code, strings.TrimSpace(body), h.Get("WWW-Authenticate"))
		}
	}

	// The operator of shop.
	shop, err := f.HTTPAs("shop")
	if err != nil {
		t.Fatal(err)
	}
	var v site.View
	if _, err := getJSON(ctx, shop, url+"/v1/view", &v); err != nil {
		t.Fatal(err)
	}
	if names := workloadNames(v); !slices.Equal(names, []string{"shop/web"}) || v.Scope != "shop" || len(v.Sites) != 2 {
		t.Errorf("shop's view: workloads %v, scope %q, %d sites; want shop/web only, scope shop, both sites", names, v.Scope, len(v.Sites))
	}
	if sv := firstStreamView(ctx, t, shop, url); !slices.Equal(workloadNames(sv), []string{"shop/web"}) || sv.Scope != "shop" {
		t.Errorf("shop's stream: workloads %v, scope %q", workloadNames(sv), sv.Scope)
	}
	for p, want := range map[string]int{
		"/v1/objects/workload/shop/web":    200,
		"/v1/objects/workload/bank/ledger": 404,
		"/v1/objects/workload/bank/none":   404,
		"/v1/placement/shop/web":           200,
		"/v1/placement/bank/ledger":        404,
		"/v1/clusters":                     200,
		"/v1/state":                        200,
		"/v1/tip":                          200,
		"/metrics":                         403,
	} {
		if code, body, _ := call(ctx, t, shop, http.MethodGet, url+p); code != want {
			t.Errorf("shop GET %s: %d %s, want %d", p, code, strings.TrimSpace(body), want)
		}
	}
	_, hidden, _ := call(ctx, t, shop, http.MethodGet, url+"/v1/objects/workload/bank/ledger")
	_, missing, _ := call(ctx, t, shop, http.MethodGet, url+"/v1/objects/workload/bank/none")
	if strings.Replace(hidden, "ledger", "none", 1) != missing {
		t.Errorf("another namespace's workload (%s) is told apart from a missing one (%s)", hidden, missing)
	}
	code, charter, _ := call(ctx, t, shop, http.MethodGet, url+"/v1/objects/charter/")
	if code != 200 || strings.Contains(charter, "operator/bank/") || strings.Contains(charter, "admin/") || strings.Contains(charter, "observer/") || !strings.Contains(charter, "operator/shop/namespaces") {
		t.Errorf("shop's charter: %d %s; want its own grant and no one else's", code, charter)
	}
	for _, p := range []string{"/v1/events", "/v1/audit"} {
		code, body, h := call(ctx, t, shop, http.MethodGet, url+p)
		if code != 200 || strings.Contains(body, "bank") || h.Get("Atoll-Scope") != "shop" {
			t.Errorf("shop GET %s: %d, scope %q, mentions bank: %v", p, code, h.Get("Atoll-Scope"), strings.Contains(body, "bank"))
		}
	}
	if code, body, _ := call(ctx, t, f.HTTP(), http.MethodGet, url+"/v1/events"); code != 200 || !strings.Contains(body, "bank/ledger") {
		t.Errorf("the admin's events do not show bank/ledger: %d", code)
	}

	// The observer sees everything, and writes nothing.
	watch, err := f.HTTPAs("watch")
	if err != nil {
		t.Fatal(err)
	}
	v = site.View{}
	if _, err := getJSON(ctx, watch, url+"/v1/view", &v); err != nil || len(v.Workloads) != 2 || v.Scope != "" {
		t.Errorf("watch's view: %v, %v, scope %q", workloadNames(v), err, v.Scope)
	}
	for p, want := range map[string]int{"/metrics": 200, "/v1/objects/workload/bank/ledger": 200, "/v1/objects/charter/": 200} {
		if code, _, _ := call(ctx, t, watch, http.MethodGet, url+p); code != want {
			t.Errorf("watch GET %s: %d, want %d", p, code, want)
		}
	}
	if code, body, _ := call(ctx, t, watch, http.MethodPost, url+"/v1/changes"); code != 403 {
		t.Errorf("watch POST /v1/changes: %d %s, want 403", code, body)
	}

	// Bad credentials, each refused with its own message.
	shopKey, err := site.LoadKeyFile(f.KeyFile("shop"))
	if err != nil {
		t.Fatal(err)
	}
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	mint := func(k ed25519.PrivateKey, aud string, iat time.Time) string {
		tok, err := token.Mint(k, token.Claims{Audience: aud, IssuedAt: iat.Unix(), Expiry: iat.Add(time.Hour).Unix(), ID: "e2e"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct{ name, tok, says string }{
		{"another audience", mint(shopKey.PrivateKey(), "acme", now), `token is for another audience: \"acme\", want \"e2e\" or \"e2e/` + f.Names[1] + `\"`},
		{"expired", mint(shopKey.PrivateKey(), "e2e", now.Add(-3*time.Hour)), "token expired at"},
		{"unknown key", mint(stranger, "e2e", now), "has no role in the charter"},
		{"malformed", "atl1.not-a-token", "malformed token"},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/view", nil)
		req.Header.Set("Authorization", "Bearer "+tc.tok)
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), tc.says) {
			t.Errorf("%s: %s %s, want 401 saying %q", tc.name, resp.Status, strings.TrimSpace(string(b)), tc.says)
		}
	}

	// The CLI reads as its key's identity: tokens minted per command, the audience
	// learned from the site.
	out, errOut, err := cliRun(ctx, "get", "workloads", "--server", url, "--key", f.KeyFile("shop"))
	if err != nil || !strings.Contains(out, "web") || strings.Contains(out, "ledger") {
		t.Errorf("atoll get as shop: %v %s\n%s", err, errOut, out)
	}
	out, errOut, err = cliRun(ctx, "token", "--server", url, "--key", f.KeyFile("watch"), "--ttl", "5m")
	tok := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(tok, token.Prefix) {
		t.Fatalf("atoll token: %v %s %q", err, errOut, out)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	var who site.Identity
	if resp, err := anon.Do(req); err != nil || json.NewDecoder(resp.Body).Decode(&who) != nil || who.Name != "watch" || who.Role != site.RoleObserver {
		t.Errorf("whoami with atoll token's token: %+v %v", who, err)
	}

	// A flood of well-signed tokens of a stranger: the site checks a bounded number,
	// answers the rest 429 unchecked, and a token it verified before keeps working.
	codes := map[int]int{}
	for range 300 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/view", nil)
		req.Header.Set("Authorization", "Bearer "+mint(stranger, "e2e", time.Now()))
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	t.Logf("300 strangers' tokens: answers %v", codes)
	if codes[401] > 100 || codes[429] < 200 {
		t.Errorf("300 strangers' tokens: answers %v, want at most 100 checked (401), the rest 429", codes)
	}
	if code, body, _ := call(ctx, t, f.HTTP(), http.MethodGet, url+"/v1/whoami"); code != 200 {
		t.Errorf("the admin's verified token during the flood: %d %s", code, body)
	}
}
