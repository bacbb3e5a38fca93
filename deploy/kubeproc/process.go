package kubeproc

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process has to exit after SIGTERM before it gets SIGKILL.
const stopGrace = 15 * time.Second

// Process is one running daemon, known by its PID.
type Process struct {
	name    string // "etcd" or "<cluster>/<component>"
	logPath string
	proc    *os.Process
	done    chan struct{} // closed once the process has exited and been reaped

	mu         sync.Mutex
	stopping   bool  // Stop asked it to exit
	err        error // how it exited, set before done is closed
	unexpected bool  // it exited before it was asked to
}

// Spawn starts bin with args in its own session, its output appended to logPath, and its
// PID written to pidPath. The process gets SIGKILL if this one dies (Pdeathsig; the
// signal comes when the starting OS thread exits, which the Go runtime only does for
// goroutines that lock their thread and exit, which this package never does). name is
// for logs and errors. One goroutine waits for the process to exit and records how it
// ended.
//
// On an error after the process started, Spawn returns it with the error: the caller
// stops it.
func Spawn(log *slog.Logger, name, logPath, pidPath, bin string, args ...string) (*Process, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubeproc: %s: %w", name, err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kubeproc: starting %s: %w", name, err)
	}
	p := &Process{name: name, logPath: logPath, proc: cmd.Process, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err, p.unexpected = err, !p.stopping
		p.mu.Unlock()
		close(p.done)
	}()
	log.Debug("started", "process", name, "pid", p.PID(), "log", logPath)
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(p.PID())+"\n"), 0o644); err != nil {
		return p, fmt.Errorf("kubeproc: recording the PID of %s: %w", name, err)
	}
	return p, nil
}

// Name returns the name given to Spawn.
func (p *Process) Name() string { return p.name }

// PID returns the process ID.
func (p *Process) PID() int { return p.proc.Pid }

// Exited reports whether the process has exited and, if it did so before it was asked to,
// an error with how it ended and the tail of its log.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
	default:
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.unexpected {
		return true, nil
	}
	return true, fmt.Errorf("kubeproc: %s (pid %d) exited: %v; last lines of %s:\n%s",
		p.name, p.PID(), p.err, p.logPath, logTail(p.logPath, 15))
}

// Stop sends SIGTERM, then SIGKILL after stopGrace, and waits until the process is gone.
// It returns at once if the process has already exited; it is safe to call concurrently.
// os.Process signals through a pidfd, so a recycled PID is never hit.
func (p *Process) Stop(log *slog.Logger) error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	select {
	case <-p.done:
		return nil
	default:
	}
	start := time.Now()
	if err := p.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kubeproc: SIGTERM to %s (pid %d): %w", p.name, p.PID(), err)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		log.Debug("stopped", "process", p.name, "pid", p.PID(), "took", time.Since(start))
		return nil
	case <-timer.C:
	}
	log.Warn("no exit after SIGTERM, sending SIGKILL", "process", p.name, "pid", p.PID(), "grace", stopGrace)
	if err := p.proc.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kubeproc: SIGKILL to %s (pid %d): %w", p.name, p.PID(), err)
	}
	<-p.done
	return nil
}

// StopAll stops processes in parallel.
func StopAll(log *slog.Logger, ps []*Process) error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.Stop(log) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// StopInOrder stops the processes of each stage in parallel, the stages one after the
// other (apiservers, then their etcd), skipping nil ones. It reports those that could not
// be stopped and those that had exited before being asked to.
func StopInOrder(log *slog.Logger, stages ...[]*Process) error {
	var errs []error
	var all []*Process
	for _, stage := range stages {
		stage = slices.DeleteFunc(slices.Clone(stage), func(p *Process) bool { return p == nil })
		errs = append(errs, StopAll(log, stage))
		all = append(all, stage...)
	}
	for _, p := range all {
		if _, err := p.Exited(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// logTail returns the last n lines of a log file, for error messages.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
