package fedapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/deploy/kubeproc"
)

// httpClient returns a client of s's apiserver presenting certs.
func httpClient(t *testing.T, s *Server, certs ...tls.Certificate) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// send sends a request with headers and returns the status and the body.
func send(t *testing.T, hc *http.Client, method, url, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// create creates obj (JSON) at path with the admin kubeconfig.
func create(t *testing.T, admin *kubeproc.Client, path, obj string) {
	t.Helper()
	if err := admin.Send(t.Context(), http.MethodPost, path, "application/json", []byte(obj), nil); err != nil {
		t.Fatal(err)
	}
}

// TestFrontProxy has requests name their user in X-Remote-User and X-Remote-Group, as
// the site will in front of the apiserver: RBAC authorizes that user when the request
// comes with the front-proxy certificate, and the headers count for nothing without it
// or with another certificate of the front-proxy CA.
func TestFrontProxy(t *testing.T) {
	s, _ := startServer(t)
	admin, err := kubeproc.ReadKubeconfig(s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	create(t, admin, "/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}`)

	proxy := httpClient(t, s, s.FrontProxyCert())
	configMaps := s.URL() + "/api/v1/namespaces/shop/configmaps"
	cm := func(n string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + n + `"},"data":{"k":"v"}}`
	}
	alice := http.Header{UserHeader: {"alice"}}

	code, body := send(t, proxy, http.MethodPost, configMaps, cm("before"), alice)
	if code != http.StatusForbidden || !strings.Contains(body, `User \"alice\" cannot create resource \"configmaps\"`) {
		t.Fatalf("alice without a grant: %d %s; want 403 naming alice", code, body)
	}

	// The ClusterRole edit aggregates its rules from other ClusterRoles, which only the
	// controller manager does: here it grants nothing. A Role of shop stands in for it.
	create(t, admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles", `{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": {"name": "edit"},
		"rules": [{"apiGroups": [""], "resources": ["configmaps"],
			"verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]}`)
	create(t, admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings", `{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": {"name": "shop-edit"},
		"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "edit"},
		"subjects": [
			{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
			{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "shop-team"}
		]}`)
	// RBAC reads RoleBindings from a cache: the grant takes effect within moments.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	i := 0
	err = kubeproc.Poll(ctx, "alice's grant", 50*time.Millisecond, func(context.Context) (bool, error) {
		i++
		code, body := send(t, proxy, http.MethodPost, configMaps, cm("alice-"+strconv.Itoa(i)), alice)
		if code == http.StatusCreated {
			return true, nil
		}
		if code != http.StatusForbidden {
			return false, kubeproc.Permanent(&kubeproc.StatusError{Method: "POST", URL: configMaps, Code: code, Body: body})
		}
		return false, &kubeproc.StatusError{Method: "POST", URL: configMaps, Code: code, Body: body}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(t.Context(), http.MethodGet, "/api/v1/namespaces/shop/configmaps/alice-"+strconv.Itoa(i), nil, nil); err != nil {
		t.Fatalf("the ConfigMap alice created: %v", err)
	}

	// A group in X-Remote-Group is the user's.
	bob := http.Header{UserHeader: {"bob"}, GroupHeader: {"shop-team"}}
	if code, body := send(t, proxy, http.MethodPost, configMaps, cm("bob"), bob); code != http.StatusCreated {
		t.Errorf("bob of the group shop-team: %d %s; want 201", code, body)
	}
	if code, body := send(t, proxy, http.MethodPost, configMaps, cm("carol"), http.Header{UserHeader: {"carol"}}); code != http.StatusForbidden {
		t.Errorf("carol of no group: %d %s; want 403", code, body)
	}
	if code, body := send(t, proxy, http.MethodPost, s.URL()+"/api/v1/namespaces/default/configmaps", cm("elsewhere"), alice); code != http.StatusForbidden {
		t.Errorf("alice outside shop: %d %s; want 403", code, body)
	}

	// Without the front-proxy certificate, or with another one the front-proxy CA
	// signed, the headers name nobody: the request is anonymous or refused.
	pki := filepath.Join(filepath.Dir(s.Kubeconfig()), "pki")
	caCert, err := os.ReadFile(filepath.Join(pki, frontProxyCACert))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := os.ReadFile(filepath.Join(pki, frontProxyCAKey))
	if err != nil {
		t.Fatal(err)
	}
	fpCA, err := kubeproc.LoadCA(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := fpCA.IssueClient("mallory", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for what, hc := range map[string]*http.Client{
		"no client certificate":                  httpClient(t, s),
		"a front-proxy CA certificate, CN other": httpClient(t, s, mallory),
	} {
		code, body := send(t, hc, http.MethodPost, configMaps, cm("spoofed"), alice)
		if !(code == http.StatusUnauthorized || code == http.StatusForbidden && strings.Contains(body, `User \"system:anonymous\"`)) {
			t.Errorf("%s, X-Remote-User alice: %d %s; want 401, or 403 for system:anonymous", what, code, body)
		}
	}
	if err := admin.Do(t.Context(), http.MethodGet, "/api/v1/namespaces/shop/configmaps/spoofed", nil, nil); !kubeproc.IsStatus(err, http.StatusNotFound) {
		t.Errorf("the spoofed ConfigMap: %v; want 404", err)
	}
}

// TestPersist stores a policy, stops the server and starts it again on the same Dir:
// the policy is still there, etcd ran with fsync, and the kubeconfig, CA and front-proxy
// certificate from before the restart still work.
func TestPersist(t *testing.T) {
	bin, err := kubeproc.BinDir("etcd", "kube-apiserver")
	if err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	dir := t.TempDir()
	s1, err := Start(t.Context(), Options{Dir: dir, BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s1.Stop() })
	pid, err := os.ReadFile(filepath.Join(dir, "etcd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cmdline, []byte("unsafe-no-fsync")) {
		t.Errorf("a durable server's etcd runs without fsync: %q", cmdline)
	}
	// A copy, outside Dir, as a user would keep it.
	saved := filepath.Join(t.TempDir(), "kubeconfig")
	kc, err := os.ReadFile(s1.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(saved, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	admin, err := kubeproc.ReadKubeconfig(saved)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const cpps = "/apis/policy.karmada.io/v1alpha1/clusterpropagationpolicies"
	create(t, admin, cpps, `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"ClusterPropagationPolicy",
		"metadata":{"name":"kept"},
		"spec":{"resourceSelectors":[{"apiVersion":"apps/v1","kind":"Deployment"}],"placement":{}}}`)
	url1, ca1, fp1 := s1.URL(), s1.CAPEM(), s1.FrontProxyCert()
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := admin.OK(t.Context(), "/readyz"); err == nil {
		t.Fatal("the apiserver answers after Stop")
	}

	s2, err := Start(t.Context(), Options{Dir: dir, BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s2.Stop(); err != nil {
			t.Error(err)
		}
	})
	if s2.URL() != url1 || !bytes.Equal(s2.CAPEM(), ca1) || !bytes.Equal(s2.FrontProxyCert().Certificate[0], fp1.Certificate[0]) {
		t.Errorf("after a restart: URL %s, CA same %v, front-proxy certificate same %v; want %s and the same",
			s2.URL(), bytes.Equal(s2.CAPEM(), ca1), bytes.Equal(s2.FrontProxyCert().Certificate[0], fp1.Certificate[0]), url1)
	}
	var cpp struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := admin.Do(t.Context(), http.MethodGet, cpps+"/kept", nil, &cpp); err != nil || cpp.Metadata.Name != "kept" {
		t.Fatalf("the ClusterPropagationPolicy after a restart, with the old kubeconfig: %+v, %v", cpp, err)
	}
	// The front-proxy certificate from before the restart still names users.
	code, body := send(t, httpClient(t, s2, fp1), http.MethodGet, s2.URL()+cpps, "", http.Header{UserHeader: {"alice"}})
	if code != http.StatusForbidden || !strings.Contains(body, `User \"alice\"`) {
		t.Errorf("the old front-proxy certificate as alice: %d %s; want 403 naming alice", code, body)
	}
}
