package kubeproc

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The cache directory must be the one `make kube` fills.
func TestCacheDirMatchesBuildScript(t *testing.T) {
	want, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), "bash", "../../hack/kube/build.sh", "--print-dir").Output()
	if err != nil {
		t.Fatalf("hack/kube/build.sh --print-dir: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("hack/kube/build.sh builds into %s, BinDir looks in %s: the versions differ", got, want)
	}
}

// TestPKI issues serving and client certificates from a CA read back from its PEM, and
// checks that they verify for their use only, with the client's groups.
func TestPKI(t *testing.T) {
	made, err := NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(made.CertPEM, made.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("other-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(made.CertPEM, other.KeyPEM); err == nil {
		t.Error("LoadCA accepted another CA's key")
	}
	roots := x509.NewCertPool()
	roots.AddCert(made.Cert)

	servingPEM, _, err := ca.IssueServing("srv", []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ParseCert(servingPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("serving certificate: %v", err)
	}
	if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("the serving certificate verifies as a client certificate")
	}

	clientPEM, _, err := ca.IssueClient("alice", []string{"devs", "ops"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ParseCert(clientPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if client.Subject.CommonName != "alice" || !slices.Equal(slices.Sorted(slices.Values(client.Subject.Organization)), []string{"devs", "ops"}) {
		t.Errorf("client subject %v, want CN alice, O devs and ops", client.Subject)
	}
	if time.Until(client.NotAfter) > time.Hour {
		t.Errorf("client certificate valid until %v, over an hour from now", client.NotAfter)
	}
}

func TestKubeconfig(t *testing.T) {
	ca, err := NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := WriteKubeconfig(path, "c1", "https://127.0.0.1:6443", ca.CertPEM, "admin", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode: %v, %v; want 0600", fi.Mode(), err)
	}
	c, err := ReadKubeconfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.base != "https://127.0.0.1:6443" || c.token != "s3cret" {
		t.Errorf("ReadKubeconfig: server %q, token %q", c.base, c.token)
	}
	if err := os.WriteFile(path, []byte("current-context: none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKubeconfig(path); err == nil {
		t.Error("ReadKubeconfig of a kubeconfig without a context succeeded")
	}
}

// TestProcess spawns a daemon and stops it, then one that exits on its own.
func TestProcess(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	p, err := Spawn(log, "sleeper", filepath.Join(dir, "s.log"), filepath.Join(dir, "s.pid"), "/bin/sh", "-c", "echo up; exec sleep 60")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "s.pid")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(p.PID()) {
		t.Errorf("PID file: %q, %v; want %d", b, err, p.PID())
	}
	if gone, _ := p.Exited(); gone {
		t.Fatal("exited at once")
	}
	if err := p.Stop(log); err != nil {
		t.Fatal(err)
	}
	if gone, err := p.Exited(); !gone || err != nil {
		t.Errorf("after Stop: exited %v, %v; want true and no error", gone, err)
	}

	q, err := Spawn(log, "crasher", filepath.Join(dir, "c.log"), filepath.Join(dir, "c.pid"), "/bin/sh", "-c", "echo boom; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	err = Poll(t.Context(), "crasher exit", 10*time.Millisecond, func(context.Context) (bool, error) {
		gone, _ := q.Exited()
		return gone, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Exited(); err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("an unexpected exit: %v; want its status and log", err)
	}
	if err := StopAll(log, []*Process{p, q}); err != nil {
		t.Errorf("StopAll of exited processes: %v", err)
	}
}

func TestPickPorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	free, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := PickPorts([]int{free[0], taken, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != free[0] || got[1] == taken || got[1] == 0 || got[2] == 0 ||
		got[1] == got[0] || got[2] == got[0] || got[2] == got[1] {
		t.Errorf("PickPorts(%d free, %d taken, 0) = %v", free[0], taken, got)
	}
}
