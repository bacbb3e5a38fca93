package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
	"atoll/site/token"
	"atoll/site/transport"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestKeysToSite follows the README: keys for two admins and a site, a 2-of-2 genesis
// charter, and a site configuration that opens against it.
func TestKeysToSite(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	keys := map[string]string{}
	for _, name := range []string{"alice", "bob", "us-east"} {
		out, err := run(t, "keys", "new", p(name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = strings.TrimSpace(out)
		pub, err := run(t, "keys", "pub", p(name+".key"))
		if err != nil || strings.TrimSpace(pub) != keys[name] {
			t.Fatalf("keys pub = %q, %v; keys new printed %q", pub, err, keys[name])
		}
	}
	if _, err := run(t, "keys", "new", p("alice.key")); err == nil {
		t.Fatal("keys new overwrote an existing key file")
	}
	fed := "name: acme\nthreshold: 2\nadmins:\n- {name: alice, key: \"" + keys["alice"] + "\"}\n- {name: bob, key: \"" + keys["bob"] + "\"}\n" +
		"sites:\n- {name: us-east, key: \"" + keys["us-east"] + "\", region: us-east-1, jurisdiction: US}\n"
	if err := os.WriteFile(p("federation.yaml"), []byte(fed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "keys", "charter", "-f", p("federation.yaml"), "--sign", p("alice.key"), "-o", p("one.atoll")); err == nil {
		t.Fatal("a 2-of-2 charter was signed by one admin")
	}
	out, err := run(t, "keys", "charter", "-f", p("federation.yaml"), "--sign", p("alice.key"), "--sign", p("bob.key"), "-o", p("genesis.atoll"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `charter "acme", 1 sites`) {
		t.Fatalf("keys charter printed %q", out)
	}
	conf := "name: us-east\nidentity: us-east.key\ngenesis: genesis.atoll\nlisten: 127.0.0.1:0\ndataDir: data\njurisdiction: US\n"
	if err := os.WriteFile(p("site.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := site.LoadConfig(p("site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Open(cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The charter attests jurisdiction US; a site claiming EU must not start.
	cfg.Jurisdiction = "EU"
	if _, err := site.Open(cfg, discard()); err == nil || !strings.Contains(err.Error(), `configured jurisdiction "EU", the charter attests "US"`) {
		t.Fatalf("site with a wrong jurisdiction: %v", err)
	}
}

// TestKeysCertAndToken: the certificate and the token of a key both carry that key.
func TestKeysCertAndToken(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "watch.key")
	pub, err := run(t, "keys", "new", key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "keys", "cert", key, "-o", filepath.Join(dir, "watch.crt")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "watch.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("no PEM in %q", b)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := transport.CertKey([]*x509.Certificate{cert})
	if err != nil || site.FormatKey(crdt.PubKey(k)) != strings.TrimSpace(pub) {
		t.Fatalf("certificate key %v (%v), want %s", k, err, pub)
	}
	tok, err := run(t, "token", "--key", key, "--audience", "acme", "--ttl", "5m")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := token.Verify(strings.TrimSpace(tok), time.Now(), "acme")
	if err != nil || c.Key != strings.TrimSpace(pub) || c.Expiry-c.IssuedAt != 300 {
		t.Fatalf("token %q: %+v %v", tok, c, err)
	}
	if _, err := run(t, "token", "--key", key, "--audience", "acme", "--ttl", "48h"); err == nil {
		t.Error("a 48h token was minted")
	}
}
