package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// observerProc is a running `atoll observe`.
type observerProc struct {
	name string
	cmd  *exec.Cmd
	exit chan error
}

// StartObserver starts `atoll observe` as the charter observer name (one of
// Options.Observers), joining through the sites, with its HTTP server at httpAddr, and
// waits until it is ready. Its log is Dir/<name>.log; Stop stops it with the sites.
func (f *Fed) StartObserver(ctx context.Context, name, httpAddr string) error {
	if f.opts.Lab != nil {
		return errors.New("e2e: observers run on loopback only")
	}
	f.mu.Lock()
	n := len(f.observers)
	f.mu.Unlock()
	listen, err := f.listenAddr(len(f.Names) + 20 + n)
	if err != nil {
		return err
	}
	dir := f.opts.Dir
	args := []string{"observe", "--name", name, "--identity", filepath.Join(dir, name+".key"), "--genesis", filepath.Join(dir, "genesis.atoll"),
		"--listen", listen, "--http", httpAddr, "--data", filepath.Join(dir, "data", name), "--profile", f.opts.Profile}
	for _, a := range f.addrs {
		args = append(args, "--seeds", a)
	}
	cmd := exec.Command(f.opts.Binary, args...)
	logf, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("e2e: starting observer %s: %w", name, err)
	}
	p := &observerProc{name: name, cmd: cmd, exit: make(chan error, 1)}
	go func() { p.exit <- cmd.Wait(); logf.Close() }()
	f.mu.Lock()
	f.observers = append(f.observers, p)
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-p.exit:
			p.exit <- err
			return fmt.Errorf("e2e: observer %s exited at start (%v); see %s", name, err, filepath.Join(dir, name+".log"))
		case <-ctx.Done():
			return fmt.Errorf("e2e: observer %s not ready: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopObservers stops every observer (SIGTERM, then SIGKILL after 20 s).
func (f *Fed) stopObservers() error {
	f.mu.Lock()
	obs := f.observers
	f.observers = nil
	f.mu.Unlock()
	var errs []error
	for _, p := range obs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exit:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exit
			errs = append(errs, fmt.Errorf("e2e: observer %s did not stop within 20s of SIGTERM", p.name))
		}
	}
	return errors.Join(errs...)
}
