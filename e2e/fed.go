package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/e2e/netlab"
	"atoll/site"
)

// Jurisdictions are given to sites in turn.
var Jurisdictions = []string{"EU", "US", "APAC"}

// Options describe a federation to start.
type Options struct {
	Sites  int    // sites in the charter
	Late   int    // of which the last Late are not started by Start
	Dir    string // working directory: keys, genesis, configs, data, logs
	Binary string // the atoll binary
	// Lab, if set, runs site i inside the lab's namespace i; links are cut with nftables.
	// Otherwise sites listen on 127.0.0.x and links are cut by the transport hook.
	Lab *netlab.Lab
	// Profile is memberlist's profile for every site (default "local").
	Profile string
	// LogLevel is every site's --log-level (default info).
	LogLevel string
	// CPUProfile has every site process profile its CPU between two SIGUSR1s and write it
	// next to its log (<Dir>/<name>.cpu.pprof).
	CPUProfile bool
	// Tune, if set, adjusts each site's configuration before it is written.
	Tune func(i int, c *site.Config)
	// Replicas, if above 1, runs site 0 as that many replicas under Raft: process 0 and
	// processes Sites, Sites+1, ... (all named like site 0). Start starts them all.
	Replicas int
	// HTTP gives every site an HTTP server (API, dashboard, metrics); URL(i) is its address.
	HTTP bool
	// Specs, if set, names the sites and places them, one per site. Otherwise site i is
	// named s00, s01, ..., in region-<i%3>, with Jurisdictions[i%3].
	Specs []SiteSpec
	// Federation is the federation's name in the charter (default "e2e").
	Federation string
	// Observers are names of read-only identities: each gets a key, <Dir>/<name>.key, and
	// a place among the charter's observers.
	Observers []string
	// Operators are further operators, each granted only its namespaces: each gets a
	// key, <Dir>/<name>.key, and Fed.Operators[name]. (Fed.Operator may write anywhere.)
	Operators []OperatorSpec
	// Admins is how many admins the charter has (default 1): "admin", then "admin1",
	// "admin2", ..., each with <Dir>/<name>.key.
	Admins int
	// Threshold is the admin signatures a charter change needs (default 1); the genesis
	// is signed by the first Threshold admins.
	Threshold int
	// Format is the format level the federation starts at (default: the release's
	// highest, crdt.MaxFormat). Below crdt.FormatClusterScope the operator "ops" is not
	// granted cluster scope.
	Format int
	// Outside is how many of the last sites the genesis charter leaves out: they get a
	// key and a site.yaml with join: true, and are not started by Start (an amendment
	// adds them; StartSite then starts them).
	Outside int
	// Supervise, if set, restarts a process that exits without the harness asking it to
	// (a crash, a fail-stop, a kill from outside), as systemd or Kubernetes would. Kill
	// and StopSite still stop a process for good; see Supervisor.
	Supervise *Supervisor
	// PerProcess, if above 1, runs the sites that many to a process with atoll sites:
	// sites 0 to K-1 in the first, K to 2K-1 in the next, and so on; each site keeps its
	// own config, data, listener, memberlist and log (<Dir>/<name>.log), and each process's
	// own output goes to <Dir>/sites-<first>-<last>.log. It is for the benchmarks of many
	// sites on one machine (latency, idle, converge), where a process per site would spend
	// the CPU on as many Go runtimes. One site of a shared process cannot be killed,
	// stopped, signalled or started alone: Kill, StopSite, Signal and StartSite return
	// ErrShared, and Stop stops every process. Lab, Replicas, Late, Outside and Supervise
	// need one site per process.
	PerProcess int
}

// ErrShared is what the harness answers when asked to start, stop or signal one site of
// a process it shares with others (Options.PerProcess).
var ErrShared = errors.New("the site shares its process with others (per-process above 1): start, stop and signal whole federations only")

// shared reports whether sites share processes.
func (o Options) shared() bool { return o.PerProcess > 1 }

// checkShared says which option needs one site per process, when sites share them.
func (o Options) checkShared() error {
	for _, c := range []struct {
		bad  bool
		what string
	}{{o.Lab != nil, "network namespaces (--netns)"}, {o.Replicas > 1, "replicas"}, {o.Late > 0 || o.Outside > 0, "sites started later"}, {o.Supervise != nil, "supervision"}} {
		if c.bad {
			return fmt.Errorf("e2e: %d sites per process: %s need one site per process", o.PerProcess, c.what)
		}
	}
	return nil
}

// OperatorSpec is an operator of the charter and the namespaces it is granted.
type OperatorSpec struct {
	Name       string
	Namespaces []string
}

// SiteSpec is a site's entry in the charter.
type SiteSpec struct {
	Name, Region, Jurisdiction string
}

// spec returns site i's entry, from Options.Specs or the default.
func (o Options) spec(i int) SiteSpec {
	if len(o.Specs) > 0 {
		return o.Specs[i]
	}
	return SiteSpec{fmt.Sprintf("s%02d", i), "region-" + strconv.Itoa(i%3), Jurisdictions[i%len(Jurisdictions)]}
}

// Fed is a running federation of site processes.
type Fed struct {
	opts     Options
	Names    []string
	addrs    []string
	urls     []string
	configs  []string
	clients  []*site.Client
	Operator *crdt.Signer
	// Operators are the keys of Options.Operators, by name.
	Operators map[string]*crdt.Signer

	// life serializes, per process, what starts or stops it: StartSite's start, Kill and
	// StopSite, and the supervisor's restart. It is never taken while mu is held.
	life []sync.Mutex
	sup  *supervisor // nil unless Options.Supervise

	mu        sync.Mutex
	binaries  map[int]string // by process, where SetBinary replaced Options.Binary
	procs     []*proc        // by process; nil when never started or stopped by the harness
	observers []*observerProc
	acked     map[string]int // acknowledged change ids (hex) and the site that acknowledged
	http      *http.Client   // the admin's, made by HTTP
}

// Start writes a federation's files and starts its first Sites-Late sites.
func Start(ctx context.Context, o Options) (*Fed, error) {
	if o.Profile == "" {
		o.Profile = "local"
	}
	o.Late = max(o.Late, o.Outside)
	procs := o.Sites + max(o.Replicas-1, 0)
	f := &Fed{opts: o, acked: map[string]int{}, procs: make([]*proc, procs), life: make([]sync.Mutex, procs)}
	if o.Supervise != nil {
		f.sup = newSupervisor(*o.Supervise, procs)
	}
	if o.shared() {
		if err := o.checkShared(); err != nil {
			return nil, err
		}
	}
	if err := f.writeFiles(); err != nil {
		return nil, err
	}
	if o.shared() {
		for lo := 0; lo < o.Sites; lo += o.PerProcess {
			if err := f.startGroup(ctx, lo, min(lo+o.PerProcess, o.Sites)); err != nil {
				f.Stop()
				return nil, err
			}
		}
		return f, nil
	}
	for i := range procs {
		if i >= o.Sites-o.Late && i < o.Sites {
			continue
		}
		if err := f.StartSite(ctx, i); err != nil {
			f.Stop()
			return nil, err
		}
	}
	return f, nil
}

// replicaOf0 reports whether process i is a replica of site 0 (process 0 included).
func (f *Fed) replicaOf0(i int) bool { return f.opts.Replicas > 1 && (i == 0 || i >= f.opts.Sites) }

func (f *Fed) writeFiles() error {
	o := f.opts
	if len(o.Specs) > 0 && len(o.Specs) != o.Sites {
		return fmt.Errorf("e2e: %d site specs for %d sites", len(o.Specs), o.Sites)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	var cf site.CharterFile
	cf.Name, cf.Threshold, cf.Format = cmp.Or(o.Federation, "e2e"), max(o.Threshold, 1), o.Format
	var admins []*crdt.Signer
	for a := range max(o.Admins, 1) {
		name := "admin"
		if a > 0 {
			name = fmt.Sprintf("admin%d", a)
		}
		admin, err := newKey(filepath.Join(o.Dir, name+".key"))
		if err != nil {
			return err
		}
		admins = append(admins, admin)
		cf.Admins = append(cf.Admins, struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		}{name, site.FormatKey(admin.Public())})
	}
	op, err := newKey(filepath.Join(o.Dir, "operator.key"))
	if err != nil {
		return err
	}
	f.Operator = op
	cf.Operators = append(cf.Operators, site.CharterFileOperator{Name: "ops", Key: site.FormatKey(op.Public()), Namespaces: []string{"*"},
		ClusterScope: o.Format == 0 || o.Format >= crdt.FormatClusterScope})
	f.Operators = map[string]*crdt.Signer{}
	for _, spec := range o.Operators {
		k, err := newKey(filepath.Join(o.Dir, spec.Name+".key"))
		if err != nil {
			return err
		}
		f.Operators[spec.Name] = k
		cf.Operators = append(cf.Operators, site.CharterFileOperator{Name: spec.Name, Key: site.FormatKey(k.Public()), Namespaces: spec.Namespaces})
	}
	for _, name := range o.Observers {
		k, err := newKey(filepath.Join(o.Dir, name+".key"))
		if err != nil {
			return err
		}
		cf.Observers = append(cf.Observers, struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		}{name, site.FormatKey(k.Public())})
	}
	for i := range o.Sites {
		sp := o.spec(i)
		name := sp.Name
		k, err := newKey(filepath.Join(o.Dir, name+".key"))
		if err != nil {
			return err
		}
		f.Names = append(f.Names, name)
		if i >= o.Sites-o.Outside {
			continue // its address is picked below
		}
		cf.Sites = append(cf.Sites, struct {
			Name         string `json:"name"`
			Key          string `json:"key"`
			Region       string `json:"region"`
			Jurisdiction string `json:"jurisdiction"`
		}{name, site.FormatKey(k.Public()), sp.Region, sp.Jurisdiction})
	}
	for i := range o.Sites {
		addr, err := f.listenAddr(i)
		if err != nil {
			return err
		}
		f.addrs = append(f.addrs, addr)
	}
	for k := 1; k < o.Replicas; k++ { // further replicas of site 0, same name and key
		addr, err := f.listenAddr(o.Sites + k - 1)
		if err != nil {
			return err
		}
		f.Names, f.addrs = append(f.Names, f.Names[0]), append(f.addrs, addr)
	}
	var replica *site.ReplicaConfig
	if o.Replicas > 1 {
		replica = &site.ReplicaConfig{}
		for i := range f.Names {
			if f.replicaOf0(i) {
				replica.Peers = append(replica.Peers, site.ReplicaPeer{ID: fmt.Sprintf("r%d", len(replica.Peers)), Address: f.addrs[i]})
			}
		}
	}
	spec, err := cf.Spec()
	if err != nil {
		return err
	}
	genesis, err := crdt.NewGenesis(spec, admins[:min(cf.Threshold, len(admins))]...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "genesis.atoll"), genesis.Encode(), 0o644); err != nil {
		return err
	}
	for i, name := range f.Names {
		proc := name
		if i >= o.Sites {
			proc = fmt.Sprintf("%s-r%d", name, i-o.Sites+1)
		}
		c := site.Config{
			Name: name, Identity: name + ".key", Genesis: "genesis.atoll", Listen: f.addrs[i],
			DataDir: filepath.Join("data", proc), Profile: o.Profile, FaultInjection: o.Lab == nil,
			Join: i < o.Sites && i >= o.Sites-o.Outside,
		}
		for _, j := range f.seedsOf(i) {
			c.Seeds = append(c.Seeds, f.addrs[j])
		}
		if o.HTTP {
			addr, err := f.httpAddr(i)
			if err != nil {
				return err
			}
			c.HTTP = addr
		}
		if f.replicaOf0(i) {
			r := *replica
			r.ID = fmt.Sprintf("r%d", replicaIndex(f, i))
			c.Replica = &r
		}
		for j := range f.Names {
			if j != i && f.replicaOf0(j) && !f.replicaOf0(i) {
				c.Seeds = append(c.Seeds, f.addrs[j]) // whichever replica leads site 0
			}
		}
		if o.Tune != nil {
			o.Tune(i, &c)
		}
		var url string
		if c.HTTP != "" {
			url = "http://" + c.HTTP
		}
		f.urls = append(f.urls, url)
		b, err := yaml.Marshal(c)
		if err != nil {
			return err
		}
		path := filepath.Join(o.Dir, proc+".yaml")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		f.configs = append(f.configs, path)
		// The socket path must stay under the unix limit of 108 bytes.
		sock := filepath.Join(o.Dir, "data", proc, "atoll.sock")
		f.clients = append(f.clients, site.NewClient(sock))
	}
	return nil
}

func replicaIndex(f *Fed, i int) int {
	if i == 0 {
		return 0
	}
	return i - f.opts.Sites + 1
}

// seedsOf returns the sites i joins through: up to three others, started ones first.
func (f *Fed) seedsOf(i int) []int {
	var out []int
	for j := range f.opts.Sites - f.opts.Late {
		if j != i && len(out) < 3 {
			out = append(out, (i+1+j)%(f.opts.Sites-f.opts.Late))
		}
	}
	out = slices.DeleteFunc(out, func(j int) bool { return j == i })
	slices.Sort(out)
	return slices.Compact(out)
}

func newKey(path string) (*crdt.Signer, error) {
	if _, err := site.NewKeyFile(path); err != nil {
		return nil, err
	}
	return site.LoadKeyFile(path)
}

// listenAddr picks site i's address: its namespace's address, or 127.0.0.(10+i) with a
// free port.
func (f *Fed) listenAddr(i int) (string, error) {
	if f.opts.Lab != nil {
		return netip.AddrPortFrom(f.opts.Lab.Addr(i), 7946).String(), nil
	}
	ip := netip.AddrFrom4([4]byte{127, 0, byte(1 + (10+i)/250), byte(10 + (10+i)%250)})
	for range 20 {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			return "", fmt.Errorf("e2e: picking a port on %s: %w", ip, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			pc.Close()
			return netip.AddrPortFrom(ip, uint16(port)).String(), nil
		}
	}
	return "", fmt.Errorf("e2e: no free TCP and UDP port on %s", ip)
}

// httpAddr picks a free TCP port on site i's address for its HTTP server.
func (f *Fed) httpAddr(i int) (string, error) {
	if f.opts.Lab != nil {
		return netip.AddrPortFrom(f.opts.Lab.Addr(i), 8080).String(), nil
	}
	host, _, _ := net.SplitHostPort(f.addrs[i])
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("e2e: picking an http port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// URL returns the base URL of site i's HTTP server (Options.HTTP, or an address set by
// Tune); "" if it has none.
func (f *Fed) URL(i int) string { return f.urls[i] }

// Config returns the path of site i's site.yaml; its log is beside it, with .log.
func (f *Fed) Config(i int) string { return f.configs[i] }

// Client returns the API client of site i.
func (f *Fed) Client(i int) *site.Client { return f.clients[i] }

// proc is one run of a site process.
type proc struct {
	cmd     *exec.Cmd
	bin     string        // the binary it runs; a restart runs the same
	log     string        // where its output goes
	started time.Time     // when it was started
	done    chan struct{} // closed once it has exited
	err     error         // cmd.Wait's, set before done is closed
	exited  time.Time     // set before done is closed
}

// hasExited reports whether p's process has exited.
func (p *proc) hasExited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running reports whether site i's process was started and not stopped by the harness
// (it may have exited by itself since: see Exited).
func (f *Fed) Running(i int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs[i] != nil
}

// Exited reports whether site i's process, started and not stopped by the harness,
// has exited by itself (and, under Options.Supervise, is not yet restarted).
func (f *Fed) Exited(i int) bool {
	f.mu.Lock()
	p := f.procs[i]
	f.mu.Unlock()
	return p != nil && p.hasExited()
}

// Signal sends sig to site i's process without waiting (SIGSTOP and SIGCONT freeze and
// thaw it, as a stalled host would). The harness does not count the signal as a stop: a
// process it ends has exited by itself, and Options.Supervise restarts it.
func (f *Fed) Signal(i int, sig syscall.Signal) error {
	if f.opts.shared() {
		return fmt.Errorf("e2e: signal %q to %s: %w", sig, f.Names[i], ErrShared)
	}
	f.mu.Lock()
	p := f.procs[i]
	f.mu.Unlock()
	if p == nil {
		return fmt.Errorf("e2e: %s is not running", f.Names[i])
	}
	return p.cmd.Process.Signal(sig)
}

// Pid returns the process id of site i's process, 0 if it is not running.
func (f *Fed) Pid(i int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.procs[i] == nil {
		return 0
	}
	return f.procs[i].cmd.Process.Pid
}

// RunningSites returns the indexes of the running sites.
func (f *Fed) RunningSites() []int {
	var out []int
	for i := range f.Names {
		if f.Running(i) {
			out = append(out, i)
		}
	}
	return out
}

// SetBinary makes the next StartSite of process i run the binary at path instead of
// Options.Binary: a rolling upgrade replaces each process's binary in turn.
func (f *Fed) SetBinary(i int, path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.binaries == nil {
		f.binaries = map[int]string{}
	}
	f.binaries[i] = path
}

// StartSite starts site i's process and waits until its API answers. Under
// Options.Supervise the process is supervised from then on.
func (f *Fed) StartSite(ctx context.Context, i int) error {
	if f.opts.shared() {
		return fmt.Errorf("e2e: starting %s: %w", f.Names[i], ErrShared)
	}
	f.life[i].Lock()
	f.mu.Lock()
	bin := cmp.Or(f.binaries[i], f.opts.Binary)
	f.mu.Unlock()
	p, err := f.spawn(i, bin)
	if err == nil {
		f.mu.Lock()
		f.procs[i] = p
		f.mu.Unlock()
		f.sup.started(i)
	}
	f.life[i].Unlock()
	if err != nil {
		return err
	}
	if err := f.waitAPI(ctx, i, p); err != nil {
		return err
	}
	f.supervise(i, p)
	return nil
}

// spawn starts site i's process on bin, without waiting for it; the caller holds life[i]
// and records the process in procs.
func (f *Fed) spawn(i int, bin string) (*proc, error) {
	args := []string{"site", "--config", f.configs[i]}
	if f.opts.LogLevel != "" {
		args = append(args, "--log-level", f.opts.LogLevel)
	}
	if f.opts.CPUProfile {
		args = append(args, "--cpu-profile", strings.TrimSuffix(f.configs[i], ".yaml")+".cpu.pprof")
	}
	var cmd *exec.Cmd
	if f.opts.Lab != nil {
		cmd = f.opts.Lab.Command(context.Background(), i, bin, args...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	return startProc(cmd, bin, f.logPath(i), f.Names[i])
}

// startProc starts cmd, its output appended to the file at log, and waits for it in the
// background; what names it in errors.
func startProc(cmd *exec.Cmd, bin, log, what string) (*proc, error) {
	logf, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("e2e: starting %s: %w", what, err)
	}
	p := &proc{cmd: cmd, bin: bin, log: log, started: time.Now(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.err, p.exited = err, time.Now()
		close(p.done)
	}()
	return p, nil
}

func (f *Fed) waitAPI(ctx context.Context, i int, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if _, err := f.clients[i].State(ctx); err == nil {
			return nil
		}
		select {
		case <-p.done:
			f.mu.Lock()
			if f.procs[i] == p {
				f.procs[i] = nil
			}
			f.mu.Unlock()
			return fmt.Errorf("e2e: %s exited at start (%v); see %s", f.Names[i], p.err, p.log)
		case <-ctx.Done():
			return fmt.Errorf("e2e: %s: API not up: %w", f.Names[i], ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL to site i and waits for it to exit. The harness counts it as
// stopped: it stays down, supervised or not, until StartSite.
func (f *Fed) Kill(i int) error { return f.signal(i, syscall.SIGKILL, 5*time.Second) }

// StopSite stops site i gracefully (SIGTERM). It stays down, supervised or not, until
// StartSite.
func (f *Fed) StopSite(i int) error { return f.signal(i, syscall.SIGTERM, 20*time.Second) }

func (f *Fed) signal(i int, sig syscall.Signal, wait time.Duration) error {
	if f.opts.shared() {
		return fmt.Errorf("e2e: signal %q to %s: %w", sig, f.Names[i], ErrShared)
	}
	f.life[i].Lock()
	defer f.life[i].Unlock()
	f.mu.Lock()
	p := f.procs[i]
	f.procs[i] = nil
	f.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop(sig, wait, f.Names[i])
}

// stop sends sig to p, waits for it to exit and kills it if it has not within wait.
func (p *proc) stop(sig syscall.Signal, wait time.Duration, what string) error {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("e2e: %s did not stop within %s after %s", what, wait, sig)
	}
}

// stopOne stops site i gracefully; if it shares its process (Options.PerProcess), the
// first site of the process stops the process and the others only forget it.
func (f *Fed) stopOne(i int) error {
	if !f.opts.shared() {
		return f.StopSite(i)
	}
	f.mu.Lock()
	p := f.procs[i]
	f.procs[i] = nil
	f.mu.Unlock()
	if p == nil || i%f.opts.PerProcess != 0 {
		return nil
	}
	return p.stop(syscall.SIGTERM, 60*time.Second, "atoll sites of "+f.Names[i])
}

// Stop stops every site and returns the first error.
func (f *Fed) Stop() error {
	f.sup.stop()
	obsErr := f.stopObservers()
	var wg sync.WaitGroup
	errs := make([]error, len(f.Names))
	for i := range f.Names {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f.stopOne(i) }()
	}
	wg.Wait()
	f.sup.wait()
	for _, c := range f.clients {
		c.Close()
	}
	return errors.Join(append(errs, obsErr)...)
}

// startGroup starts sites lo to hi-1 in one atoll sites process (Options.PerProcess) and
// waits until each site's API answers.
func (f *Fed) startGroup(ctx context.Context, lo, hi int) error {
	bin := f.opts.Binary
	args := []string{"sites", "--log-dir", f.opts.Dir}
	if f.opts.LogLevel != "" {
		args = append(args, "--log-level", f.opts.LogLevel)
	}
	name := fmt.Sprintf("sites-%s-%s", f.Names[lo], f.Names[hi-1])
	if f.opts.CPUProfile {
		args = append(args, "--cpu-profile", filepath.Join(f.opts.Dir, name+".cpu.pprof"))
	}
	args = append(args, f.configs[lo:hi]...)
	p, err := startProc(exec.Command(bin, args...), bin, filepath.Join(f.opts.Dir, name+".log"), name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	for i := lo; i < hi; i++ {
		f.procs[i] = p
	}
	f.mu.Unlock()
	for i := lo; i < hi; i++ {
		if err := f.waitAPI(ctx, i, p); err != nil {
			return err
		}
	}
	return nil
}
