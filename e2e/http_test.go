package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"atoll/site"
)

// getJSON fetches url into out and returns the status code.
// hc proves an identity (Fed.HTTP); plain http.DefaultClient is anonymous.
func getJSON(ctx context.Context, hc *http.Client, url string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: %w", url, err)
		}
	}
	return resp.StatusCode, nil
}

// streamViews reads a site's /v1/stream and sends each view it gets.
func streamViews(ctx context.Context, t *testing.T, hc *http.Client, url string) <-chan site.View {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream content type %q", ct)
	}
	out := make(chan site.View, 16)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var v site.View
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Errorf("stream: %v", err)
				return
			}
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// TestHTTPView: every site serves the read API over HTTP; the view agrees with the
// charter, shows a bounded workload redacted outside its bound, and the stream delivers
// a new workload without polling. The HTTP server takes no site-signed writes.
func TestHTTPView(t *testing.T) {
	f := start(t, Options{Sites: 3, HTTP: true})
	ctx := deadline(t, 90*time.Second)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var r site.Readiness
		if err := poll(ctx, func() bool {
			code, err := getJSON(ctx, f.HTTP(), f.URL(i)+"/readyz", &r)
			return err == nil && code == 200
		}); err != nil {
			t.Fatalf("site %d never ready: %+v", i, r)
		}
	}
	resp, err := http.Post(f.URL(0)+"/v1/write", "application/json", strings.NewReader(`{"ops":[{"op":"set","kind":"site","key":"s00","field":"labels/x","value":"1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Fatalf("POST /v1/write over HTTP answered %s: the HTTP server must not sign", resp.Status)
	}

	views := streamViews(ctx, t, f.HTTP(), f.URL(1))
	first := <-views
	if first.Site != f.Names[1] || len(first.Sites) != 3 {
		t.Fatalf("first streamed view: site %q with %d sites", first.Site, len(first.Sites))
	}

	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.write(ctx, 0, workloadOps("web", "front", 3)...); err != nil {
		t.Fatal(err)
	}
	if err := op.writeWorkload(ctx, 0, "web", "ledger", 2, "EU"); err != nil {
		t.Fatal(err)
	}
	var got site.View
	for v := range views {
		if len(v.Workloads) == 2 {
			got = v
			break
		}
	}
	if len(got.Workloads) != 2 {
		t.Fatal("the stream ended before both workloads arrived")
	}
	for _, w := range got.Workloads {
		switch w.Workload {
		case "web/front":
			if w.Replicas != 3 || len(w.Allowed) != 3 || w.Redacted {
				t.Errorf("web/front: replicas %d, allowed %v, redacted %v", w.Replicas, w.Allowed, w.Redacted)
			}
		case "web/ledger":
			// s01 is in US: it holds the header only, and only s00 (EU) may run it.
			if !w.Redacted || !slices.Equal(w.Allowed, []string{f.Names[0]}) || !slices.Equal(w.Bound, []string{"EU"}) {
				t.Errorf("web/ledger at s01: redacted %v, allowed %v, bound %v", w.Redacted, w.Allowed, w.Bound)
			}
		default:
			t.Errorf("unexpected workload %q", w.Workload)
		}
	}
	var v0 site.View
	if _, err := getJSON(ctx, f.HTTP(), f.URL(0)+"/v1/view?fresh=true", &v0); err != nil {
		t.Fatal(err)
	}
	for _, w := range v0.Workloads {
		if w.Workload == "web/ledger" && w.Redacted {
			t.Error("web/ledger redacted at s00, inside its bound")
		}
	}
	for _, s := range v0.Sites {
		if !s.Alive || !s.Live {
			t.Errorf("s00 sees %s alive=%v live=%v", s.Name, s.Alive, s.Live)
		}
	}
	var evs []site.Event
	if _, err := getJSON(ctx, f.HTTP(), f.URL(1)+"/v1/events", &evs); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e site.Event) bool { return e.Kind == "change" && strings.Contains(e.Message, "web/ledger") }) {
		t.Errorf("no change event names web/ledger at s01: %+v", evs)
	}
}

// startWithFront starts a federation, waits for its membership, and writes web/front (a
// Deployment of 3 replicas) through site 0 as the operator; ctx ends after within.
func startWithFront(t *testing.T, o Options, within time.Duration) (*Fed, *Operator, context.Context) {
	t.Helper()
	f, op, ctx := startWithOperator(t, o, within)
	if err := op.write(ctx, 0, workloadOps("web", "front", 3)...); err != nil {
		t.Fatal(err)
	}
	return f, op, ctx
}

// startWithOperator starts a federation, waits until its sites see each other, and
// returns the operator's client and a context that ends within the given time.
func startWithOperator(t *testing.T, o Options, within time.Duration) (*Fed, *Operator, context.Context) {
	t.Helper()
	f := start(t, o)
	ctx := deadline(t, within)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, op, ctx
}

// poll calls ok every 100ms until it holds or ctx ends.
func poll(ctx context.Context, ok func() bool) error {
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// TestHTTPTLS: with httpCert and httpKey the HTTP server speaks TLS 1.3 only.
// writeServingCert writes http.crt and http.key into dir: a self-signed serving
// certificate for the loopback addresses e2e sites listen on. It returns the certificate.
func writeServingCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "atoll"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}}
	for i := 10; i < 30; i++ { // e2e sites listen on 127.0.1.x
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IPv4(127, 0, 1, byte(i)))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "http.crt"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "http.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

func TestHTTPTLS(t *testing.T) {
	dir := shortTempDir(t)
	certPEM := writeServingCert(t, dir)
	f, err := Start(t.Context(), Options{Sites: 1, HTTP: true, Dir: dir, Binary: binary, Tune: func(_ int, c *site.Config) {
		c.HTTPCert, c.HTTPKey = "http.crt", "http.key"
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := strings.Replace(f.URL(0), "http://", "https://", 1)
	resp, err := hc.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("https /healthz: %s, TLS %+v", resp.Status, resp.TLS)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}}}
	if resp, err := old.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("TLS 1.2 accepted")
	}
	if resp, err := http.Get(f.URL(0) + "/healthz"); err == nil && resp.StatusCode == 200 {
		resp.Body.Close()
		t.Fatal("plain HTTP answered on a TLS server")
	}

	// Identity over TLS: a client certificate self-signed by a charter key is that
	// identity; one of a key outside the charter, or none, is not.
	ctx := deadline(t, 30*time.Second)
	admin, err := site.LoadKeyFile(f.KeyFile("admin"))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := site.NewHTTPClientAuth(base, site.HTTPAuth{Key: admin.PrivateKey(), Certificate: true, CA: certPEM})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := cc.Whoami(ctx); err != nil || id.Role != site.RoleAdmin || id.Via != "certificate" {
		t.Errorf("whoami with the admin's client certificate: %+v %v", id, err)
	}
	if v, err := cc.View(ctx); err != nil || len(v.Sites) != 1 {
		t.Errorf("view with the admin's client certificate: %v", err)
	}
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	sc, err := site.NewHTTPClientAuth(base, site.HTTPAuth{Key: stranger, Certificate: true, CA: certPEM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.View(ctx); err == nil || !strings.Contains(err.Error(), "client certificate key") || !strings.Contains(err.Error(), "has no role in the charter") {
		t.Errorf("view with a stranger's client certificate: %v", err)
	}
	anon, _ := site.NewHTTPClientAuth(base, site.HTTPAuth{CA: certPEM})
	if _, err := anon.View(ctx); err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("view without credentials over TLS: %v", err)
	}
	// The CLI, from a context with the site's certificate as ca: tokens, then a
	// client certificate.
	conf := filepath.Join(dir, "atoll.config")
	ctxFile := fmt.Sprintf("current-context: tls\ncontexts:\n- name: tls\n  server: %s\n  ca: http.crt\n  key: admin.key\n- name: cert\n  server: %s\n  ca: http.crt\n  key: admin.key\n  client-cert: true\n", base, base)
	if err := os.WriteFile(conf, []byte(ctxFile), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tls", "cert"} {
		if out, errOut, err := cliRun(ctx, "get", "sites", "--atollconfig", conf, "--context", name); err != nil || !strings.Contains(out, f.Names[0]) {
			t.Errorf("atoll get sites, context %s: %v %s\n%s", name, err, errOut, out)
		}
	}
}
