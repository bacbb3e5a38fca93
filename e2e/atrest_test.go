package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/site"
)

// TestDataAtRest (docs/adr/0007): a Secret value in a template and a token in a member
// kubeconfig are nowhere in clear on the disks of a site run as three replicas under
// Raft (data files, whose Raft logs hold the join, and the clusters' kubeconfig files),
// while the sites hold and read them, and a replica restarted from its sealed file
// holds them again.
func TestDataAtRest(t *testing.T) {
	f := start(t, Options{Sites: 2, Replicas: 3, HTTP: true})
	ctx := deadline(t, 3*time.Minute)
	leader := leaderOf0(t, ctx, f)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 8)
	_, _ = rand.Read(rnd)
	canary := "canary" + hex.EncodeToString(rnd)
	secret := canary + "-secret"
	token := canary + "-token"

	kubeconfig := strings.Replace(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: TOKEN}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, "TOKEN", token, 1)
	if err := f.Client(leader).JoinCluster(ctx, site.JoinRequest{Name: "c0", Kubeconfig: kubeconfig}); err != nil {
		t.Fatal(err)
	}
	manifest := "apiVersion: v1\nkind: Secret\nmetadata: {name: db-creds, namespace: shop}\ntype: Opaque\nstringData: {password: " + secret + "}\n"
	path := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	contexts := filepath.Join(t.TempDir(), "atoll.config")
	ctxFile := "current-context: leader\ncontexts:\n- name: leader\n  server: " + f.URL(leader) + "\n  key: " + filepath.Join(f.opts.Dir, "operator.key") + "\n"
	if err := os.WriteFile(contexts, []byte(ctxFile), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := cliRun(ctx, "--atollconfig", contexts, "apply", "-f", path)
	if err != nil {
		t.Fatalf("apply: %v\n%s%s", err, out, errOut)
	}
	// Every process holds the Secret; every replica of site 0 holds the cluster.
	holds := func(i int) bool {
		v, err := f.Client(i).View(ctx)
		if err != nil {
			return false
		}
		for _, w := range v.Workloads {
			if strings.Contains(w.Name, "db-creds") {
				return true
			}
		}
		return false
	}
	dataDirs, _ := filepath.Glob(filepath.Join(f.opts.Dir, "data", "*"))
	for i := range f.Names {
		if err := poll(ctx, func() bool { return holds(i) }); err != nil {
			t.Fatalf("%s never held the Secret", f.Names[i])
		}
	}
	for _, d := range dataDirs {
		if !strings.HasPrefix(filepath.Base(d), f.Names[0]) {
			continue
		}
		if err := poll(ctx, func() bool { _, err := os.Stat(filepath.Join(d, "clusters", "c0", "kubeconfig")); return err == nil }); err != nil {
			t.Fatalf("%s never joined c0", d)
		}
	}
	// The site reads the kubeconfig: it observes the cluster and publishes what it saw.
	if err := poll(ctx, func() bool {
		o, err := f.Client(1).Object(ctx, "cluster", f.Names[0]+"/c0")
		return err == nil && o["health"].Value != ""
	}); err != nil {
		t.Fatal("site 0 never published c0")
	}

	scan := func() (files int) {
		t.Helper()
		err := filepath.Walk(filepath.Join(f.opts.Dir, "data"), func(p string, info os.FileInfo, err error) error {
			if err != nil || !info.Mode().IsRegular() { // not the API socket
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			for _, leak := range []string{canary, hex.EncodeToString([]byte(canary))} {
				if i := bytes.Index(b, []byte(leak)); i >= 0 {
					t.Errorf("%s holds %q in clear at byte %d", p, leak, i)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	t.Logf("%d files in the data dirs hold no canary", scan())

	// A follower restarted from its sealed data file holds the Secret and the cluster.
	follower := 0
	if leader == 0 {
		follower = f.opts.Sites
	}
	if err := f.StopSite(follower); err != nil {
		t.Fatal(err)
	}
	if err := f.StartSite(ctx, follower); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func() bool { return holds(follower) }); err != nil {
		t.Fatalf("%s restarted without the Secret", f.Names[follower])
	}
	scan()
}
