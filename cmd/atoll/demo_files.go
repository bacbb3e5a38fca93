//go:build !release

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"atoll/e2e"
)

// demoMarker marks a working directory as a demo's, so that the next demo may wipe it.
const demoMarker = ".atoll-demo"

// demoHTTPPort is the HTTP port of the first site; the others follow.
const demoHTTPPort = 8080

// maxSocketPath is the longest unix socket path Linux accepts (sun_path less its NUL).
const maxSocketPath = 107

// prepareDemoDir makes dir an empty working directory marked as a demo's. It refuses a
// directory where a demo is running or that holds files of something else, and wipes
// what a previous demo left (reporting wiped).
func prepareDemoDir(dir string) (wiped bool, err error) {
	if sock := filepath.Join(dir, "data", "ap-south", "atoll.sock"); len(sock) > maxSocketPath {
		return false, fmt.Errorf("demo: --dir %s is too long: %s would pass the %d-byte limit of unix socket paths", dir, sock, maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", demoSocket(dir), time.Second); err == nil {
		c.Close()
		return false, fmt.Errorf("demo: a demo is already running in %s: stop it (Ctrl-C) or give another --dir", dir)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return false, fmt.Errorf("demo: %s holds files and is not a demo's (no %s): give another --dir", dir, demoMarker)
		}
		if err := os.RemoveAll(dir); err != nil {
			return false, fmt.Errorf("demo: wiping the previous demo: %w", err)
		}
		wiped = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return wiped, err
	}
	return wiped, os.WriteFile(filepath.Join(dir, demoMarker), []byte("atoll demo, pid "+strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// demoHTTPAddrs returns a loopback address for each site's HTTP server: ports 8080,
// 8081, ... where free, so that the printed URLs are the same from run to run, else any
// free port.
func demoHTTPAddrs(n int) ([]string, error) {
	var addrs []string
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(demoHTTPPort+i))
		if err != nil {
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return nil, fmt.Errorf("demo: picking an HTTP port: %w", err)
			}
		}
		defer ln.Close() // held until all are picked, so that no two are the same
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// demoContextFile is the path of the CLI's context file (ATOLLCONFIG) in dir.
func demoContextFile(dir string) string { return filepath.Join(dir, "atoll.config") }

// demoContext is one context of the CLI's context file.
type demoContext struct {
	Name   string `json:"name"`
	Site   string `json:"site"`             // a local site's config: the CLI uses its unix-socket API
	Server string `json:"server,omitempty"` // the site's HTTP server: reads, and signed changes
	Key    string `json:"key"`              // the operator key that signs writes
}

// writeDemoContexts writes the CLI's context file: one context per site, the first
// current.
func writeDemoContexts(dir string, fed *e2e.Fed) error {
	var cs []demoContext
	for i, name := range fed.Names {
		cs = append(cs, demoContext{Name: name, Site: fed.Config(i), Server: fed.URL(i), Key: filepath.Join(dir, "operator.key")})
	}
	head := "# Contexts of the atoll CLI for the demo federation: export ATOLLCONFIG=" + demoContextFile(dir)
	return os.WriteFile(demoContextFile(dir), formatDemoContexts(head, cs), 0o644)
}

// formatDemoContexts writes a context file by hand, to keep its keys in the order the
// CLI documents them, with comments: a comment line, then current-context (the first)
// and the contexts.
func formatDemoContexts(comment string, cs []demoContext) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\ncurrent-context: %s\ncontexts:\n", comment, yamlString(cs[0].Name))
	for _, c := range cs {
		fmt.Fprintf(&b, "- name: %s\n", yamlString(c.Name))
		fmt.Fprintf(&b, "  site: %s # a local site's config: the CLI uses its unix-socket API\n", yamlString(c.Site))
		if c.Server != "" {
			fmt.Fprintf(&b, "  server: %s # the site's HTTP server: reads, and signed changes\n", yamlString(c.Server))
		}
		fmt.Fprintf(&b, "  key: %s # the operator key that signs writes\n", yamlString(c.Key))
	}
	return []byte(b.String())
}

// yamlString is s as a YAML scalar, quoted only where YAML needs it.
func yamlString(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s) // a string always marshals; JSON quoting is valid YAML
	}
	return strings.TrimSuffix(string(b), "\n")
}

// demoPoll calls ok every 200 ms until it reports true or ctx ends; then it returns the
// last error ok gave, if any, with ctx's.
func demoPoll(ctx context.Context, ok func() (bool, error)) error {
	for {
		done, err := ok()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("%w: %w", context.Cause(ctx), err)
			}
			return context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
