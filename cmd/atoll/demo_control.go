//go:build !release

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"atoll/e2e"
	"atoll/site"
)

// The control socket of a running demo, <dir>/demo.sock, takes the actions of
// `atoll demo kill|start|partition|heal` from other terminals. The demo process owns the
// site processes, so a site it kills and starts again is still its child, stopped with
// the others on Ctrl-C. Each action answers with text for the terminal.

// demoSocket is the control socket's path.
func demoSocket(dir string) string { return filepath.Join(dir, "demo.sock") }

// demoControl carries out the actions, one at a time.
type demoControl struct {
	fed *e2e.Fed
	mu  sync.Mutex
}

// serveDemoControl listens on the control socket and serves it until the server is closed.
func serveDemoControl(fed *e2e.Fed, dir string) (*http.Server, error) {
	path := demoSocket(dir)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("demo control socket: %w", err)
	}
	c := &demoControl{fed: fed}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /kill/{site}", c.handle(c.kill))
	mux.HandleFunc("POST /start/{site}", c.handle(c.start))
	mux.HandleFunc("POST /partition/{site}", c.handle(c.partition))
	mux.HandleFunc("POST /heal", c.handle(func(ctx context.Context, _ int) (string, error) { return c.heal(ctx) }))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns when the demo closes srv
	return srv, nil
}

// handle resolves {site} and runs act, answering its text or its error.
func (c *demoControl) handle(act func(ctx context.Context, i int) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := -1
		if name := r.PathValue("site"); name != "" {
			if i = slices.Index(c.fed.Names, name); i < 0 {
				http.Error(w, fmt.Sprintf("no site %q: the demo's sites are %s", name, strings.Join(c.fed.Names, ", ")), http.StatusNotFound)
				return
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		msg, err := act(r.Context(), i)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		fmt.Fprintln(w, msg)
	}
}

func (c *demoControl) kill(_ context.Context, i int) (string, error) {
	name := c.fed.Names[i]
	if !c.fed.Running(i) {
		return "", fmt.Errorf("%s is not running (atoll demo start %s)", name, name)
	}
	if err := c.fed.Kill(i); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s killed (SIGKILL). Once the others declare it dead, in a few seconds, they take over its replicas; atoll demo start %s brings it back.", name, name), nil
}

func (c *demoControl) start(ctx context.Context, i int) (string, error) {
	name := c.fed.Names[i]
	if c.fed.Running(i) {
		return "", fmt.Errorf("%s is already running", name)
	}
	if err := c.fed.StartSite(ctx, i); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s started. It catches up from its data file and the others, and takes its replicas back once it reports them ready (failback).", name), nil
}

// partition blocks, at every running site, the links between site i and the others.
func (c *demoControl) partition(ctx context.Context, i int) (string, error) {
	var others []string
	for j, name := range c.fed.Names {
		if j == i {
			continue
		}
		others = append(others, name)
		if c.fed.Running(j) {
			if err := c.fed.Client(j).Faults(ctx, site.FaultRequest{Block: []string{c.fed.Names[i]}}); err != nil {
				return "", err
			}
		}
	}
	if c.fed.Running(i) {
		if err := c.fed.Client(i).Faults(ctx, site.FaultRequest{Block: others}); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s cut off from %s, both ways. Once each side declares the other dead, in a few seconds, it takes over the other's replicas, except those bound to a jurisdiction it is not in; atoll demo heal joins them again.",
		c.fed.Names[i], strings.Join(others, " and ")), nil
}

func (c *demoControl) heal(ctx context.Context) (string, error) {
	if err := c.fed.Heal(ctx); err != nil {
		return "", err
	}
	return "Every link restored. The sites merge what each side wrote and hand back the replicas they took over.", nil
}

// newDemoControlCmds returns the subcommands that act on a running demo in *dir.
func newDemoControlCmds(dir *string) []*cobra.Command {
	verb := func(use, short, path string) *cobra.Command {
		args := cobra.ExactArgs(1)
		if !strings.Contains(use, " ") {
			args = cobra.NoArgs
		}
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, a []string) error {
				p := "/" + path
				if len(a) == 1 {
					p += "/" + a[0]
				}
				return demoRequest(cmd.Context(), *dir, p, cmd.OutOrStdout())
			},
		}
	}
	return []*cobra.Command{
		verb("kill SITE", "Kill a site of the running demo (SIGKILL)", "kill"),
		verb("start SITE", "Start a killed site of the running demo again", "start"),
		verb("partition SITE", "Cut a site of the running demo off from the others", "partition"),
		verb("heal", "Restore every link between the running demo's sites", "heal"),
	}
}

// demoRequest posts an action to the control socket of the demo in dir and prints the answer.
func demoRequest(ctx context.Context, dir, path string, out io.Writer) error {
	sock := demoSocket(dir)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}, Timeout: time.Minute}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://demo"+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("demo: no demo answers on %s (start one with make demo, or give its --dir): %w", sock, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demo: %s", strings.TrimSpace(string(b)))
	}
	_, err = out.Write(b)
	return err
}
