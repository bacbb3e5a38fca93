package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"atoll/site"
)

// contextFile is the client's configuration, kubeconfig-style: named contexts, each a
// way to reach one site and the key that signs the operator's writes.
//
//	current-context: us-east
//	contexts:
//	- name: us-east
//	  site: /etc/atoll/us-east.yaml    # a local site's config: its unix-socket API
//	  server: https://us-east.example:8443  # or the site's HTTP server
//	  ca: ~/.atoll/us-east.crt        # the HTTP server's certificate (or its CA), for https
//	  key: ~/.atoll/operator.key      # signs changes, and the tokens that prove who you are
type contextFile struct {
	CurrentContext string        `json:"current-context,omitempty"`
	Contexts       []siteContext `json:"contexts"`
}

// siteContext is one named context. Relative paths are relative to the context file.
type siteContext struct {
	Name string `json:"name"`
	// Site is a site's configuration file: commands use its local unix-socket API,
	// which serves everything. It wins over Server when a context has both.
	Site string `json:"site,omitempty"`
	// Server is the base URL of a site's HTTP server: reads and signed changes only.
	Server string `json:"server,omitempty"`
	// Key is the identity's key: it signs workload changes, and the short-lived tokens
	// (site/token) that prove the identity to the HTTP server.
	Key string `json:"key,omitempty"`
	// CA is a PEM file of the certificate the HTTP server's must chain to (its own
	// self-signed certificate will do); empty: the system's roots.
	CA string `json:"ca,omitempty"`
	// ClientCert presents a TLS client certificate made from Key instead of tokens.
	ClientCert bool `json:"client-cert,omitempty"`
}

// Defaults of the per-command flags, used when neither a flag nor a context gives one.
const (
	defaultSite = "site.yaml"
	defaultKey  = "operator.pem"
)

// addContextFlags adds the global --atollconfig and --context flags to the root command.
func addContextFlags(root *cobra.Command) {
	root.PersistentFlags().String("atollconfig", "", "the context file (default $ATOLLCONFIG, else ~/.atoll/config)")
	root.PersistentFlags().String("context", "", "the context to use (default: the file's current-context)")
}

// addTargetFlags adds --site, --server, --ca and --key to a command's flags; writes is
// whether the key also signs the command's changes.
func addTargetFlags(fs *pflag.FlagSet, writes bool) {
	fs.String("site", defaultSite, "the site's configuration file, to use its local API (overrides the context)")
	fs.String("server", "", "the site's HTTP server, http(s)://host:port (overrides the context)")
	fs.String("ca", "", "the HTTP server's certificate or CA, PEM, for https (overrides the context)")
	if writes {
		fs.String("key", defaultKey, "the identity that signs the change, and proves who you are to an HTTP server (overrides the context)")
	} else {
		fs.String("key", defaultKey, "the identity that proves who you are to an HTTP server (overrides the context)")
	}
}

// target is where a command sends its requests, and the key that signs its writes.
type target struct {
	Site    string // site.yaml of a site: its unix-socket API
	Server  string // base URL of a site's HTTP server, if Site is ""
	Key     string
	CA      string // PEM file of the HTTP server's certificate, "" for the system's roots
	Cert    bool   // present a client certificate of Key rather than tokens
	Context string // the context used, "" if none
}

// client connects to the target.
func (t target) client() (*site.Client, error) {
	if t.Site != "" {
		return siteClient(t.Site)
	}
	return t.httpClient()
}

// httpClient connects to the target's HTTP server as the identity of its key: tokens
// minted per command (or a client certificate), the audience learned from the server.
// Without a key file the client is anonymous, and the server says what it wants.
func (t target) httpClient() (*site.Client, error) {
	var a site.HTTPAuth
	if t.CA != "" {
		b, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		a.CA = b
	}
	if t.Key == "" {
		return site.NewHTTPClientAuth(t.Server, a)
	}
	signer, err := site.LoadKeyFile(t.Key)
	switch {
	case err == nil:
		a.Key, a.Certificate = signer.PrivateKey(), t.Cert
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	return site.NewHTTPClientAuth(t.Server, a)
}

// local fails unless the target is a site's local API: what commands need that the HTTP
// server does not serve (the site signs them itself).
func (t target) local(what string) error {
	if t.Site == "" {
		return fmt.Errorf("%s needs the site's local API: give --site site.yaml, or a context with site: (%s is the HTTP server)", what, t.Server)
	}
	return nil
}

// flagsGiven are the explicit --site, --server, --key of a command; "" if not given.
type flagsGiven struct{ Site, Server, Key, CA string }

// contextPath returns the context file to read and whether it was asked for explicitly
// (a missing explicit file is an error; a missing default one means no contexts).
func contextPath(flag string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if env := os.Getenv("ATOLLCONFIG"); env != "" {
		return env, true
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".atoll", "config"), false
}

// loadContextFile reads a context file strictly: unknown fields, duplicate names and
// contexts that reach nothing are errors naming the file. A missing file that was not
// asked for explicitly is (nil, nil).
func loadContextFile(path string, explicit bool) (*contextFile, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("context file: %w", err)
	}
	return parseContextFile(path, b)
}

func parseContextFile(path string, b []byte) (*contextFile, error) {
	var cf contextFile
	if err := yaml.UnmarshalStrict(b, &cf); err != nil {
		return nil, fmt.Errorf("context file %s: %s", path, strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: "))
	}
	seen := map[string]bool{}
	for i, c := range cf.Contexts {
		at := fmt.Sprintf("context file %s: contexts[%d]", path, i)
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("%s: name is required", at)
		case seen[c.Name]:
			return nil, fmt.Errorf("%s: name %q is used twice", at, c.Name)
		case c.Site == "" && c.Server == "":
			return nil, fmt.Errorf("%s (%s): give site (a site.yaml) or server (a URL)", at, c.Name)
		}
		if c.Server != "" {
			if _, err := site.NewHTTPClient(c.Server); err != nil {
				return nil, fmt.Errorf("%s (%s): server: %w", at, c.Name, err)
			}
		}
		seen[c.Name] = true
		dir := filepath.Dir(path)
		cf.Contexts[i].Site = relativeTo(dir, c.Site)
		cf.Contexts[i].Key = relativeTo(dir, c.Key)
		cf.Contexts[i].CA = relativeTo(dir, c.CA)
	}
	return &cf, nil
}

// relativeTo resolves a path of the context file: ~/ is the home directory, and a
// relative path is relative to the file's directory.
func relativeTo(dir, p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// names lists the contexts' names, for messages.
func (cf *contextFile) names() []string {
	var out []string
	for _, c := range cf.Contexts {
		out = append(out, c.Name)
	}
	return out
}

// lookup returns the context called name, or an error listing the known ones.
func (cf *contextFile) lookup(path, name string) (siteContext, error) {
	i := slices.IndexFunc(cf.Contexts, func(c siteContext) bool { return c.Name == name })
	if i < 0 {
		known := "none"
		if len(cf.Contexts) > 0 {
			known = strings.Join(cf.names(), ", ")
		}
		return siteContext{}, fmt.Errorf("context %q is not in %s (contexts: %s)", name, path, known)
	}
	return cf.Contexts[i], nil
}

// resolveTarget applies the precedence: an explicit flag, then the context (the one
// named by --context, else the file's current-context), then the defaults. An explicit
// --site or --server chooses the transport; a context with both uses its site.
func resolveTarget(cf *contextFile, path, name string, given flagsGiven) (target, error) {
	if given.Site != "" && given.Server != "" {
		return target{}, errors.New("give --site or --server, not both")
	}
	var ctx siteContext
	if name != "" && cf == nil {
		return target{}, fmt.Errorf("context %q: no context file (--atollconfig, $ATOLLCONFIG or ~/.atoll/config)", name)
	}
	if cf != nil {
		if name == "" {
			name = cf.CurrentContext
		}
		if name != "" {
			var err error
			if ctx, err = cf.lookup(path, name); err != nil {
				return target{}, err
			}
		}
	}
	t := target{Site: ctx.Site, Server: ctx.Server, Key: ctx.Key, CA: ctx.CA, Cert: ctx.ClientCert, Context: ctx.Name}
	switch {
	case given.Site != "":
		t.Site, t.Server = given.Site, ""
	case given.Server != "":
		t.Site, t.Server = "", given.Server
	case t.Site != "":
		t.Server = ""
	case t.Server == "":
		t.Site = defaultSite
	}
	if given.Key != "" {
		t.Key = given.Key
	}
	if given.CA != "" {
		t.CA = given.CA
	}
	if t.Key == "" {
		t.Key = defaultKey
	}
	return t, nil
}

// changed returns a flag's value if it was given on the command line, else "".
func changed(fs *pflag.FlagSet, name string) string {
	f := fs.Lookup(name)
	if f == nil || !f.Changed {
		return ""
	}
	return f.Value.String()
}

// flagValue returns a flag's value, given or default; "" if the command has no such flag.
func flagValue(fs *pflag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// resolve finds the target of a command from its flags and the context file.
func resolve(cmd *cobra.Command) (target, error) {
	fs := cmd.Flags()
	path, explicit := contextPath(flagValue(fs, "atollconfig"))
	cf, err := loadContextFile(path, explicit)
	if err != nil {
		return target{}, err
	}
	return resolveTarget(cf, path, flagValue(fs, "context"), flagsGiven{
		Site: changed(fs, "site"), Server: changed(fs, "server"), Key: changed(fs, "key"), CA: changed(fs, "ca"),
	})
}

// connect resolves a command's target and connects to it.
func connect(cmd *cobra.Command) (*site.Client, target, error) {
	t, err := resolve(cmd)
	if err != nil {
		return nil, t, err
	}
	c, err := t.client()
	return c, t, err
}
