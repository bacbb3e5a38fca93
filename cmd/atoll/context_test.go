package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoContexts = `current-context: us-east
contexts:
- name: us-east
  site: /etc/atoll/us-east.yaml
  key: keys/operator.key
- name: eu-west
  server: http://127.0.0.1:8080
  key: /keys/eu.key
- name: both
  site: both.yaml
  server: https://both.example:8443
- name: tls
  server: https://tls.example:8443
  ca: certs/tls.crt
  key: ops.key
  client-cert: true
`

func TestResolveTarget(t *testing.T) {
	cf, err := parseContextFile("/home/me/.atoll/config", []byte(twoContexts))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cf    *contextFile
		ctx   string
		given flagsGiven
		want  target
	}{
		{"no file: today's defaults", nil, "", flagsGiven{}, target{Site: "site.yaml", Key: "operator.pem"}},
		{"no file, flags", nil, "", flagsGiven{Server: "http://x:1", Key: "k"}, target{Server: "http://x:1", Key: "k"}},
		{"current context, key relative to the file", cf, "", flagsGiven{},
			target{Site: "/etc/atoll/us-east.yaml", Key: "/home/me/.atoll/keys/operator.key", Context: "us-east"}},
		{"--context", cf, "eu-west", flagsGiven{},
			target{Server: "http://127.0.0.1:8080", Key: "/keys/eu.key", Context: "eu-west"}},
		{"--site wins over the context's server", cf, "eu-west", flagsGiven{Site: "mine.yaml"},
			target{Site: "mine.yaml", Key: "/keys/eu.key", Context: "eu-west"}},
		{"--server wins over the context's site", cf, "", flagsGiven{Server: "http://h:2"},
			target{Server: "http://h:2", Key: "/home/me/.atoll/keys/operator.key", Context: "us-east"}},
		{"--key wins", cf, "", flagsGiven{Key: "other.key"},
			target{Site: "/etc/atoll/us-east.yaml", Key: "other.key", Context: "us-east"}},
		{"site and server: the site", cf, "both", flagsGiven{},
			target{Site: "/home/me/.atoll/both.yaml", Key: "operator.pem", Context: "both"}},
		{"https: ca relative to the file, client certificate", cf, "tls", flagsGiven{},
			target{Server: "https://tls.example:8443", Key: "/home/me/.atoll/ops.key", CA: "/home/me/.atoll/certs/tls.crt", Cert: true, Context: "tls"}},
		{"--ca wins", cf, "tls", flagsGiven{CA: "/other.crt"},
			target{Server: "https://tls.example:8443", Key: "/home/me/.atoll/ops.key", CA: "/other.crt", Cert: true, Context: "tls"}},
		{"no current context: defaults", &contextFile{Contexts: cf.Contexts}, "", flagsGiven{},
			target{Site: "site.yaml", Key: "operator.pem"}},
	} {
		got, err := resolveTarget(tc.cf, "/home/me/.atoll/config", tc.ctx, tc.given)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}

	_, err = resolveTarget(cf, "/home/me/.atoll/config", "ap-south", flagsGiven{})
	if err == nil || !strings.Contains(err.Error(), `"ap-south"`) || !strings.Contains(err.Error(), "us-east, eu-west, both, tls") {
		t.Errorf("unknown context: %v; want an error naming it and listing the known ones", err)
	}
	bad := &contextFile{CurrentContext: "gone", Contexts: cf.Contexts}
	if _, err := resolveTarget(bad, "f", "", flagsGiven{}); err == nil || !strings.Contains(err.Error(), `"gone"`) {
		t.Errorf("unknown current-context: %v", err)
	}
	if _, err := resolveTarget(nil, "f", "us-east", flagsGiven{}); err == nil || !strings.Contains(err.Error(), "no context file") {
		t.Errorf("--context without a file: %v", err)
	}
	if _, err := resolveTarget(cf, "f", "", flagsGiven{Site: "a.yaml", Server: "http://b:1"}); err == nil {
		t.Error("--site and --server together: no error")
	}
}

func TestContextFileStrict(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"contexts:\n- name: a\n  sever: http://x:1\n", `unknown field "sever"`},
		{"current-contxt: a\ncontexts: []\n", `unknown field "current-contxt"`},
		{"contexts:\n- site: a.yaml\n", "contexts[0]: name is required"},
		{"contexts:\n- {name: a, site: a.yaml}\n- {name: a, site: b.yaml}\n", `contexts[1]: name "a" is used twice`},
		{"contexts:\n- {name: a, key: k}\n", "give site (a site.yaml) or server"},
		{"contexts:\n- {name: a, server: 127.0.0.1:8080}\n", "server:"},
		{"contexts:\n- name: a\n  site: [1\n", "line"},
	} {
		_, err := parseContextFile("/tmp/atoll.config", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), "/tmp/atoll.config") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v; want one naming the file and %q", tc.yaml, err, tc.want)
		}
	}
	// A default file that does not exist is no file; an explicit one is an error.
	missing := filepath.Join(t.TempDir(), "none")
	if cf, err := loadContextFile(missing, false); cf != nil || err != nil {
		t.Errorf("missing default file: %v, %v", cf, err)
	}
	if _, err := loadContextFile(missing, true); err == nil {
		t.Error("missing explicit file: no error")
	}
}

// TestContextCommands runs the root command: the context file's site is used by a
// command that has no --site, and config use-context rewrites the file.
func TestContextCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte("# mine\n"+twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--atollconfig", path}, args...))
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("config", "get-contexts")
	if err != nil || !strings.Contains(out, "CURRENT") || !strings.Contains(out, "*") || !strings.Contains(out, "eu-west") {
		t.Fatalf("get-contexts: %v\n%s", err, out)
	}
	if out, err := run("config", "use-context", "nowhere"); err == nil {
		t.Fatalf("use-context of an unknown context: %s", out)
	}
	if _, err := run("config", "use-context", "eu-west"); err != nil {
		t.Fatal(err)
	}
	if out, err := run("config", "current-context"); err != nil || strings.TrimSpace(out) != "eu-west" {
		t.Fatalf("current-context after use-context: %q, %v", out, err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "# mine") {
		t.Errorf("use-context lost the file's comment:\n%s", b)
	}
	// get with the context: reaches for its server (nothing listens at this port).
	_, err = run("get", "sites", "--server", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("get through --server: %v", err)
	}
	_, err = run("cluster", "join", "c0", "--kubeconfig", path)
	if err == nil || !strings.Contains(err.Error(), "local API") {
		t.Errorf("cluster join through an HTTP context: %v; want an error asking for the local API", err)
	}
}
