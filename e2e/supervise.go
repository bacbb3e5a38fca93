package e2e

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Supervisor restarts site processes that exit without the harness asking them to, as
// systemd (Restart=on-failure) or a Kubernetes pod's restartPolicy would: a crash, a
// fail-stop on a data file error, a SIGKILL from outside. It restarts the process with
// the same binary and arguments after a backoff that doubles with each restart in a row,
// and gives up on a process after Max restarts, so a crash loop does not spin.
//
// What the test stops through the harness (Kill, StopSite, Stop) stays stopped; what it
// starts (StartSite) is supervised once its API has answered, and a StartSite during a
// backoff replaces the pending restart. Crash and Signal are as from outside.
type Supervisor struct {
	// Max is how many times one process is restarted before it is left down
	// (default 5).
	Max int
	// Backoff is the wait before a restart: Backoff * 2^k after k restarts in a row, at
	// most MaxBackoff (defaults 100 ms and 3 s). A process that ran for Stable (default
	// 10 s) before it exited starts the count again.
	Backoff, MaxBackoff, Stable time.Duration
	// Logf, if set, is told of each unexpected exit, with its exit status, and of each
	// restart; the tests' start sets it to t.Logf.
	Logf func(format string, args ...any)
}

// withDefaults returns s with its zero fields set to their defaults.
func (s Supervisor) withDefaults() Supervisor {
	if s.Max == 0 {
		s.Max = 5
	}
	if s.Backoff == 0 {
		s.Backoff = 100 * time.Millisecond
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 3 * time.Second
	}
	if s.Stable == 0 {
		s.Stable = 10 * time.Second
	}
	if s.Logf == nil {
		s.Logf = func(string, ...any) {}
	}
	return s
}

// delay is the backoff before the restart that follows k restarts in a row.
func (s Supervisor) delay(k int) time.Duration {
	d := s.Backoff
	for ; k > 0 && d < s.MaxBackoff; k-- {
		d *= 2
	}
	return min(d, s.MaxBackoff)
}

// supervisor is a Fed's supervision state: one watch goroutine per supervised process.
type supervisor struct {
	Supervisor
	quit     chan struct{} // closed by Stop: no more restarts
	quitOnce sync.Once
	watches  sync.WaitGroup

	mu       sync.Mutex
	restarts []int // by process: restarts so far
	inARow   []int // by process: restarts since StartSite or since a run of Stable
}

func newSupervisor(s Supervisor, procs int) *supervisor {
	return &supervisor{Supervisor: s.withDefaults(), quit: make(chan struct{}), restarts: make([]int, procs), inARow: make([]int, procs)}
}

// started notes that the harness started process i: backoffs start again.
func (s *supervisor) started(i int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.inARow[i] = 0
	s.mu.Unlock()
}

// stop ends supervision: pending restarts are dropped. It may be called more than once.
func (s *supervisor) stop() {
	if s != nil {
		s.mu.Lock() // no watch is added after: see Fed.supervise
		s.quitOnce.Do(func() { close(s.quit) })
		s.mu.Unlock()
	}
}

// wait waits for every watch goroutine to end; call it after stop and after the
// processes are stopped.
func (s *supervisor) wait() {
	if s != nil {
		s.watches.Wait()
	}
}

func (s *supervisor) stopped() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// Restarts returns how many times the supervisor restarted process i (0 without
// Options.Supervise).
func (f *Fed) Restarts(i int) int {
	if f.sup == nil {
		return 0
	}
	f.sup.mu.Lock()
	defer f.sup.mu.Unlock()
	return f.sup.restarts[i]
}

// Crash kills process i with SIGKILL, as a crash or the kernel's OOM killer would, and
// waits until it has exited. Unlike Kill, the harness does not count it as stopped:
// under Options.Supervise it is restarted; otherwise it stays Exited.
func (f *Fed) Crash(i int) error {
	f.mu.Lock()
	p := f.procs[i]
	f.mu.Unlock()
	if p == nil {
		return fmt.Errorf("e2e: %s is not running", f.Names[i])
	}
	if err := p.cmd.Process.Kill(); err != nil && !p.hasExited() {
		return fmt.Errorf("e2e: crashing %s: %w", f.Names[i], err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("e2e: %s did not exit within 5s of SIGKILL", f.Names[i])
	}
}

// supervise watches process i's run p, if the Fed is supervised.
func (f *Fed) supervise(i int, p *proc) {
	if f.sup == nil {
		return
	}
	f.sup.mu.Lock()
	defer f.sup.mu.Unlock()
	if !f.sup.stopped() {
		f.sup.watches.Add(1)
		go f.watch(i, p)
	}
}

// watch restarts process i each time it exits unasked, until the harness stops or
// replaces it, the supervisor gives up, or the Fed stops.
func (f *Fed) watch(i int, p *proc) {
	defer f.sup.watches.Done()
	for p != nil {
		select {
		case <-p.done:
		case <-f.sup.quit:
			return
		}
		p = f.restart(i, p)
	}
}

// restart restarts process i after its run p exited, unless the harness stopped or
// replaced it meanwhile; it returns the new run, or nil.
func (f *Fed) restart(i int, p *proc) *proc {
	s := f.sup
	name := fmt.Sprintf("%s (process %d, pid %d, log %s.log)", f.Names[i], i, p.cmd.Process.Pid, strings.TrimSuffix(f.configs[i], ".yaml"))
	f.mu.Lock()
	unasked := f.procs[i] == p
	f.mu.Unlock()
	if !unasked {
		return nil // Kill, StopSite or StartSite: the test's doing
	}
	ran := p.exited.Sub(p.started)
	s.mu.Lock()
	if ran >= s.Stable {
		s.inARow[i] = 0
	}
	n, delay := s.restarts[i], s.delay(s.inARow[i])
	s.mu.Unlock()
	if n >= s.Max {
		s.Logf("e2e: supervisor: %s exited unasked after %v (%v); left down after %d restarts", name, ran.Round(time.Millisecond), p.err, n)
		return nil
	}
	s.Logf("e2e: supervisor: %s exited unasked after %v (%v); restart %d of at most %d in %v", name, ran.Round(time.Millisecond), p.err, n+1, s.Max, delay)
	select {
	case <-time.After(delay):
	case <-s.quit:
		return nil
	}

	f.life[i].Lock()
	defer f.life[i].Unlock()
	f.mu.Lock()
	unasked = f.procs[i] == p
	f.mu.Unlock()
	if s.stopped() {
		return nil
	}
	if !unasked {
		s.Logf("e2e: supervisor: %s not restarted: the test stopped or started it meanwhile", name)
		return nil
	}
	next, err := f.spawn(i, p.bin)
	if err != nil {
		s.Logf("e2e: supervisor: restarting %s: %v; left down", name, err)
		return nil
	}
	f.mu.Lock()
	f.procs[i] = next
	f.mu.Unlock()
	s.mu.Lock()
	s.restarts[i]++
	s.inARow[i]++
	s.mu.Unlock()
	s.Logf("e2e: supervisor: %s restarted as pid %d", name, next.cmd.Process.Pid)
	return next
}
