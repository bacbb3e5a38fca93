// Command automerge runs one workload on Atoll's crdt and on automerge-go, side by side,
// and prints a table and, as its last line, one JSON object with every figure and ratio.
//
// It lives in its own module so that the main module never depends on cgo. See README.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"atoll/crdt"
)

func main() {
	nRecords := flag.Int("records", 10_000, "status records created in (a)")
	nUpdates := flag.Int("updates", 100_000, "field updates in (b), one change each")
	edits := flag.Int("edits", 500, "concurrent edits per side in (c); both sides together make twice this")
	reps := flag.Int("reps", 5, "repetitions of (c); medians are reported")
	seed := flag.Uint64("seed", 1, "seed of the workload")
	child := flag.String("memory-child", "", "internal: run (a)+(b) on this engine only and print its memory deltas")
	flag.Parse()
	var err error
	switch {
	case *nRecords < 10 || *nUpdates < 1 || *edits < 1 || *reps < 1:
		err = fmt.Errorf("want records >= 10 and updates, edits, reps >= 1")
	case *child != "":
		err = memoryChild(*child, newWorkload(*nRecords, *nUpdates, *edits, *reps, *seed))
	default:
		err = run(*nRecords, *nUpdates, *edits, *reps, *seed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var began = time.Now()

// progress goes to stderr, with the seconds since the start, so stdout stays the report.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# %5.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

// Block sizes of the interleaving: the two engines take turns, block by block, so that a
// busy neighbour on the machine slows both alike.
const (
	createBlock = 500
	updateBlock = 1000
)

func run(nRecords, nUpdates, edits, reps int, seed uint64) error {
	wall := time.Now()
	w := newWorkload(nRecords, nUpdates, edits, reps, seed)

	// Memory first, each engine alone in a fresh child process running (a)+(b); the two
	// children run at the same time (memory figures do not depend on CPU contention).
	progress("memory: atoll and automerge each run (a)+(b) alone in a child process")
	var mem [2]childMem
	var errs [2]error
	var wg sync.WaitGroup
	for i, engine := range []string{"atoll", "automerge"} {
		wg.Go(func() {
			if mem[i], errs[i] = runChild(engine); errs[i] != nil {
				errs[i] = fmt.Errorf("memory child %s: %w", engine, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}

	at, err := newAtollBench(w, true)
	if err != nil {
		return err
	}
	am, err := newAMBench(w)
	if err != nil {
		return err
	}
	// turns runs the two engines' blocks in alternating order.
	turns := func(i int, atoll, automerge func() error) error {
		first, second := atoll, automerge
		if i%2 == 1 {
			first, second = automerge, atoll
		}
		if err := first(); err != nil {
			return err
		}
		return second()
	}
	progress("(a) %d records, blocks of %d, engines interleaved", nRecords, createBlock)
	for i, from := 0, 0; from < nRecords; i, from = i+1, from+createBlock {
		to := min(from+createBlock, nRecords)
		if err := turns(i, func() error { return at.createBlock(from, to) }, func() error { return am.createBlock(from, to) }); err != nil {
			return err
		}
	}
	progress("(b) %d updates, blocks of %d, engines interleaved", nUpdates, updateBlock)
	for i, from := 0, 0; from < nUpdates; i, from = i+1, from+updateBlock {
		to := min(from+updateBlock, nUpdates)
		if err := turns(i, func() error { return at.updateBlock(from, to) }, func() error { return am.updateBlock(from, to) }); err != nil {
			return err
		}
	}
	if err := am.sampleSaveIncremental(); err != nil {
		return err
	}

	progress("peer apply: replay every change into fresh replicas / a fresh document")
	at.collect()
	if err := am.collect(); err != nil {
		return err
	}
	total := nRecords + nUpdates
	var blocks [][2]int // all creates or all updates, so each block's time lands in its phase
	for from := 0; from < nRecords; from += updateBlock {
		blocks = append(blocks, [2]int{from, min(from+updateBlock, nRecords)})
	}
	for from := nRecords; from < total; from += updateBlock {
		blocks = append(blocks, [2]int{from, min(from+updateBlock, total)})
	}
	for i, bl := range blocks {
		if err := turns(i, func() error { return at.replayBlock(bl[0], bl[1]) }, func() error { return am.replayBlock(bl[0], bl[1]) }); err != nil {
			return err
		}
	}
	if err := at.checkReplay(); err != nil {
		return err
	}
	if err := am.checkReplay(); err != nil {
		return err
	}
	at.envs, am.raws = nil, nil

	progress("cross-check: %d records x %d fields equal on both engines after (a)+(b)", nRecords, len(fields))
	if err := crossCheck(w, at, am); err != nil {
		return err
	}
	for rep := range reps {
		progress("(c) merge repetition %d of %d", rep+1, reps)
		if err := turns(rep, func() error { return at.merge(rep) }, func() error { return am.merge(rep) }); err != nil {
			return fmt.Errorf("merge %d: %w", rep, err)
		}
	}
	r := report(w, at, am, mem, reps, edits, seed)
	r.WallSeconds = time.Since(wall).Seconds()
	printTable(os.Stdout, r)
	out, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// childMem is what a memory child reports: deltas over (a)+(b), in bytes.
type childMem struct {
	HeapInuse int64 `json:"heap_inuse"`
	HeapAlloc int64 `json:"heap_alloc"`
	RSS       int64 `json:"rss"`
	RSSTrim   int64 `json:"rss_trim"`
	RSSBefore int64 `json:"rss_before"`
}

// runChild runs this binary again with -memory-child and reads its one JSON line.
func runChild(engine string) (childMem, error) {
	var m childMem
	exe, err := os.Executable()
	if err != nil {
		return m, err
	}
	args := []string{"-memory-child", engine}
	flag.Visit(func(f *flag.Flag) { args = append(args, "-"+f.Name+"="+f.Value.String()) })
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(out, &m)
	return m, err
}

// memoryChild runs (a)+(b) on one engine and prints the memory deltas as JSON.
func memoryChild(engine string, w *workload) error {
	before := snapshot()
	var keep any
	switch engine {
	case "atoll":
		b, err := newAtollBench(w, false)
		if err != nil {
			return err
		}
		if err := b.createBlock(0, len(w.records)); err != nil {
			return err
		}
		if err := b.updateBlock(0, len(w.updates)); err != nil {
			return err
		}
		// Only the writer: the bench's other three replicas are still empty.
		keep = b
	case "automerge":
		b, err := newAMBench(w)
		if err != nil {
			return err
		}
		if err := b.createBlock(0, len(w.records)); err != nil {
			return err
		}
		if err := b.updateBlock(0, len(w.updates)); err != nil {
			return err
		}
		keep = b
	default:
		return fmt.Errorf("unknown engine %q", engine)
	}
	after := snapshot()
	runtime.KeepAlive(keep)
	var m childMem
	m.HeapInuse, m.HeapAlloc, m.RSS, m.RSSTrim = before.delta(after)
	m.RSSBefore = int64(before.rss)
	return json.NewEncoder(os.Stdout).Encode(m)
}

// crossCheck compares every field of every record on the two writers: with no concurrency
// in (a)+(b), both engines must hold exactly the same values.
func crossCheck(w *workload, at *atollBench, am *amBench) error {
	for i, rec := range w.records {
		for _, f := range fields {
			av, ok := at.writer.Get(crdt.KindStatus, rec.key, f)
			if !ok {
				return fmt.Errorf("cross-check: atoll has no %s %s", rec.key, f)
			}
			mv, err := am.handles[i].Get(f)
			if err != nil {
				return err
			}
			if string(av.Bytes) != strconv.FormatInt(mv.Int64(), 10) {
				return fmt.Errorf("cross-check: %s %s: atoll %q, automerge %d", rec.key, f, av.Bytes, mv.Int64())
			}
		}
	}
	return nil
}

// Report is the JSON line. Times are nanoseconds, sizes bytes.
type Report struct {
	AutomergeGo   string  `json:"automerge_go_version"`
	GoVersion     string  `json:"go_version"`
	Platform      string  `json:"platform"`
	CPUs          int     `json:"cpus"`
	Records       int     `json:"records"`
	Updates       int     `json:"updates"`
	EditsPerSide  int     `json:"merge_edits_per_side"`
	MergeReps     int     `json:"merge_reps"`
	Seed          uint64  `json:"seed"`
	WallSeconds   float64 `json:"wall_seconds"`
	Times         string  `json:"times"`
	Signatures    string  `json:"signatures"`
	Memory        string  `json:"memory_measurement"`
	Atoll         Engine  `json:"atoll"`
	Automerge     Engine  `json:"automerge"`
	AutomergeMore AMExtra `json:"automerge_extra"`
	Ratios        Ratios  `json:"ratio_atoll_over_automerge"`
}

// T is a time in nanoseconds by the wall clock and as CPU time of the whole process.
type T struct {
	Wall float64 `json:"wall_ns"`
	CPU  float64 `json:"cpu_ns"`
}

func perT(s span, n int) T {
	return T{float64(s.Wall.Nanoseconds()) / float64(n), float64(s.CPU.Nanoseconds()) / float64(n)}
}

// R is a ratio of two times, wall to wall and CPU to CPU.
type R struct {
	Wall float64 `json:"wall"`
	CPU  float64 `json:"cpu"`
}

func ratioT(a, b T) R { return R{ratio(a.Wall, b.Wall), ratio(a.CPU, b.CPU)} }

// Engine holds one engine's figures; per-record and per-update values are means over the
// phase, merge figures medians over the repetitions. The *_ex_sig fields are Atoll's time
// minus ed25519 Sign+Verify timed alone on the same messages; *_no_sig_check fields are
// measured directly through Replica.Restore, which runs every rule but the signature check.
type Engine struct {
	CreatePerRecord      T       `json:"create_per_record"`
	CreateExSig          *T      `json:"create_per_record_ex_sig,omitempty"`
	CreateBytesPerRecord float64 `json:"create_bytes_per_record"`
	UpdatePerUpdate      T       `json:"update_per_update"`
	UpdateExSig          *T      `json:"update_per_update_ex_sig,omitempty"`
	UpdateBytesPerUpdate float64 `json:"update_bytes_per_update"`
	Sign                 *T      `json:"ed25519_sign,omitempty"`
	Verify               *T      `json:"ed25519_verify,omitempty"`
	ApplyPerRecord       T       `json:"peer_apply_per_record"`
	ApplyPerRecordNoSig  *T      `json:"peer_apply_per_record_no_sig_check,omitempty"`
	ApplyPerUpdate       T       `json:"peer_apply_per_update"`
	ApplyPerUpdateNoSig  *T      `json:"peer_apply_per_update_no_sig_check,omitempty"`
	GoHeapInuseDelta     int64   `json:"go_heap_inuse_delta_bytes"`
	GoHeapAllocDelta     int64   `json:"go_heap_alloc_delta_bytes"`
	RSSDelta             int64   `json:"rss_delta_bytes"`
	RSSDeltaTrim         int64   `json:"rss_delta_after_malloc_trim_bytes"`
	EditPerEdit          T       `json:"merge_edit_per_edit"`
	Merge                T       `json:"merge"`
	MergeNoSig           *T      `json:"merge_no_sig_check,omitempty"`
	MergeBytes           float64 `json:"merge_bytes"`
	MergeRunsWallNs      []int64 `json:"merge_runs_wall_ns"`
	MergeEqual           bool    `json:"merge_equal"`
}

// AMExtra are automerge's other ways to merge and to export changes.
type AMExtra struct {
	MergeMethod          string  `json:"merge_method"`
	ApplyBatch           T       `json:"merge_apply_batch"`
	DocMerge             T       `json:"merge_doc_merge"`
	SyncWarm             T       `json:"sync_warm"`
	SyncWarmBytes        float64 `json:"sync_warm_bytes"`
	SyncWarmMsgs         float64 `json:"sync_warm_messages"`
	SyncCold             T       `json:"sync_cold"`
	SyncColdBytes        float64 `json:"sync_cold_bytes"`
	SyncColdMsgs         float64 `json:"sync_cold_messages"`
	HandshakeBytes       int     `json:"sync_handshake_equal_docs_bytes"`
	SaveIncremental      T       `json:"save_incremental_per_call"`
	SaveIncrementalBytes int     `json:"save_incremental_bytes_one_change"`
}

// Ratios are Atoll's figure divided by automerge's: above 1 means Atoll is slower or bigger.
type Ratios struct {
	CreateTime       R       `json:"create_time_per_record"`
	CreateTimeExSig  R       `json:"create_time_per_record_ex_sig"`
	CreateBytes      float64 `json:"create_bytes_per_record"`
	UpdateTime       R       `json:"update_time_per_update"`
	UpdateTimeExSig  R       `json:"update_time_per_update_ex_sig"`
	UpdateBytes      float64 `json:"update_bytes_per_update"`
	ApplyTime        R       `json:"peer_apply_time_per_update"`
	ApplyTimeNoSig   R       `json:"peer_apply_time_per_update_no_sig_check"`
	MergeTime        R       `json:"merge_time"`
	MergeTimeNoSig   R       `json:"merge_time_no_sig_check"`
	MergeBytes       float64 `json:"merge_bytes"`
	MergeBytesVsSync float64 `json:"merge_bytes_vs_automerge_warm_sync"`
	MemHeapVsRSS     float64 `json:"memory_atoll_go_heap_vs_automerge_rss"`
	MemRSSVsRSS      float64 `json:"memory_rss_vs_rss"`
}

func automergeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/automerge/automerge-go" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int64(a/b*1000+0.5)) / 1000
}

// medians returns the median times (wall and CPU separately), bytes and messages of runs,
// and every run's wall time.
func medians(runs []mergeRun) (t T, b, m float64, walls []int64) {
	var ss []span
	var bb, mm []int64
	for _, r := range runs {
		ss = append(ss, r.time)
		walls = append(walls, r.time.Wall.Nanoseconds())
		bb = append(bb, int64(r.bytes))
		mm = append(mm, int64(r.msgs))
	}
	return perT(medianSpan(ss), 1), float64(median(bb)), float64(median(mm)), walls
}

func ptr(t T) *T { return &t }

func report(w *workload, at *atollBench, am *amBench, mem [2]childMem, reps, edits int, seed uint64) *Report {
	nR, nU := len(w.records), len(w.updates)
	r := &Report{
		AutomergeGo: automergeVersion(), GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		CPUs: runtime.NumCPU(), Records: nR, Updates: nU, EditsPerSide: edits, MergeReps: reps, Seed: seed,
		Times: "Every time is given as CPU time of the whole process (CLOCK_PROCESS_CPUTIME_ID: all threads, so Go's garbage collector " +
			"and automerge-go's finalizers count; time spent waiting for a CPU while other processes run does not) and by the wall clock. " +
			"The engines run interleaved, block by block, so load from other processes hits both alike; still, on a loaded machine " +
			"the wall figures swing by several times between runs and the CPU figures stay within a few percent.",
		Signatures: "Atoll signs every change with Ed25519 and verifies every change it receives, its own writes included; automerge signs and verifies nothing. " +
			"*_ex_sig: Atoll's time minus ed25519 Sign+Verify timed alone on the same messages right after each block; " +
			"*_no_sig_check: measured directly through Replica.Restore (every validity rule but the signature check).",
		Memory: "Each engine runs (a)+(b) alone in a fresh child process. Go heap: runtime.MemStats HeapInuse/HeapAlloc after minus before, after 3x runtime.GC. " +
			"RSS: VmRSS from /proc/self/status after minus before, each after 3x runtime.GC (automerge-go frees its C results in finalizers) and debug.FreeOSMemory; " +
			"rss_delta_after_malloc_trim also calls glibc malloc_trim(0). Atoll's memory is all Go heap; automerge's is in the C heap (Rust, glibc malloc) plus its Go wrapper.",
	}
	a := &r.Atoll
	a.CreatePerRecord, a.CreateBytesPerRecord = perT(at.create, nR), float64(at.createBytes)/float64(nR)
	a.CreateExSig = ptr(perT(at.create.minus(at.createSig), nR))
	a.UpdatePerUpdate, a.UpdateBytesPerUpdate = perT(at.update, nU), float64(at.updateBytes)/float64(nU)
	a.UpdateExSig = ptr(perT(at.update.minus(at.updateSig), nU))
	a.Sign, a.Verify = ptr(perT(at.sigSign, at.sigCount)), ptr(perT(at.sigVerify, at.sigCount))
	a.ApplyPerRecord, a.ApplyPerRecordNoSig = perT(at.applyCreate, nR), ptr(perT(at.restoreCreate, 2*nR))
	a.ApplyPerUpdate, a.ApplyPerUpdateNoSig = perT(at.applyUpdate, nU), ptr(perT(at.restoreUpdate, 2*nU))
	a.GoHeapInuseDelta, a.GoHeapAllocDelta, a.RSSDelta, a.RSSDeltaTrim = mem[0].HeapInuse, mem[0].HeapAlloc, mem[0].RSS, mem[0].RSSTrim
	a.EditPerEdit = perT(medianSpan(at.editTime), 2*edits)
	a.Merge, a.MergeBytes, _, a.MergeRunsWallNs = medians(at.merges)
	noSig, _, _, _ := medians(at.mergesNoVerify)
	a.MergeNoSig = &noSig
	a.MergeEqual = at.mergeEqual

	m := &r.Automerge
	m.CreatePerRecord, m.CreateBytesPerRecord = perT(am.create, nR), float64(am.createBytes)/float64(nR)
	m.UpdatePerUpdate, m.UpdateBytesPerUpdate = perT(am.update, nU), float64(am.updateBytes)/float64(nU)
	m.ApplyPerRecord, m.ApplyPerUpdate = perT(am.applyCreate, nR), perT(am.applyUpdate, nU)
	m.GoHeapInuseDelta, m.GoHeapAllocDelta, m.RSSDelta, m.RSSDeltaTrim = mem[1].HeapInuse, mem[1].HeapAlloc, mem[1].RSS, mem[1].RSSTrim
	m.EditPerEdit = perT(medianSpan(am.editTime), 2*edits)
	m.Merge, m.MergeBytes, _, m.MergeRunsWallNs = medians(am.applyEach)
	m.MergeEqual = am.mergeEqual

	x := &r.AutomergeMore
	x.MergeMethod = "headline merge: each side Doc.LoadIncremental of each of the other's change bytes (Change.Save), one change at a time, as Atoll receives envelopes"
	x.ApplyBatch, _, _, _ = medians(am.applyBatch)
	x.DocMerge, _, _, _ = medians(am.docMerge)
	x.SyncWarm, x.SyncWarmBytes, x.SyncWarmMsgs, _ = medians(am.syncWarm)
	x.SyncCold, x.SyncColdBytes, x.SyncColdMsgs, _ = medians(am.syncCold)
	x.HandshakeBytes = am.handshakeBytes
	x.SaveIncremental, x.SaveIncrementalBytes = perT(am.saveIncremental, 1), am.saveIncrementalBytes

	q := &r.Ratios
	q.CreateTime, q.CreateTimeExSig = ratioT(a.CreatePerRecord, m.CreatePerRecord), ratioT(*a.CreateExSig, m.CreatePerRecord)
	q.CreateBytes = ratio(a.CreateBytesPerRecord, m.CreateBytesPerRecord)
	q.UpdateTime, q.UpdateTimeExSig = ratioT(a.UpdatePerUpdate, m.UpdatePerUpdate), ratioT(*a.UpdateExSig, m.UpdatePerUpdate)
	q.UpdateBytes = ratio(a.UpdateBytesPerUpdate, m.UpdateBytesPerUpdate)
	q.ApplyTime, q.ApplyTimeNoSig = ratioT(a.ApplyPerUpdate, m.ApplyPerUpdate), ratioT(*a.ApplyPerUpdateNoSig, m.ApplyPerUpdate)
	q.MergeTime, q.MergeTimeNoSig = ratioT(a.Merge, m.Merge), ratioT(*a.MergeNoSig, m.Merge)
	q.MergeBytes, q.MergeBytesVsSync = ratio(a.MergeBytes, m.MergeBytes), ratio(a.MergeBytes, x.SyncWarmBytes)
	q.MemHeapVsRSS = ratio(float64(a.GoHeapInuseDelta), float64(m.RSSDelta))
	q.MemRSSVsRSS = ratio(float64(a.RSSDelta), float64(m.RSSDelta))
	return r
}

// fmtT prints "cpu / wall" in µs, or in ms from 1 ms up.
func fmtT(t T) string {
	switch {
	case t.CPU >= 10e6:
		return strconv.FormatFloat(t.CPU/1e6, 'f', 1, 64) + " / " + strconv.FormatFloat(t.Wall/1e6, 'f', 1, 64) + " ms"
	case t.CPU >= 1e6:
		return strconv.FormatFloat(t.CPU/1e6, 'f', 2, 64) + " / " + strconv.FormatFloat(t.Wall/1e6, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(t.CPU/1e3, 'f', 1, 64) + " / " + strconv.FormatFloat(t.Wall/1e3, 'f', 1, 64) + " µs"
}
func fmtR(r R) string       { return fmtX(r.CPU) + " / " + fmtX(r.Wall) }
func fmtB(n float64) string { return strconv.FormatFloat(n, 'f', 0, 64) + " B" }
func fmtMiB(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }
func fmtX(r float64) string { return strconv.FormatFloat(r, 'f', 2, 64) + "x" }
func fmtN(n float64) string { return strconv.Itoa(int(n)) }

func printTable(f *os.File, r *Report) {
	a, m, e, q := r.Atoll, r.Automerge, r.AutomergeMore, r.Ratios
	fmt.Fprintf(f, "Atoll crdt vs automerge-go %s (%s, %s, %d CPUs)\n", r.AutomergeGo, r.GoVersion, r.Platform, r.CPUs)
	fmt.Fprintf(f, "workload: %d status records x 3 fields (one change each), %d single-field updates (one change each),\n"+
		"          then %d repetitions of %d+%d concurrent edits on two forks merged both ways (medians); seed %d\n",
		r.Records, r.Updates, r.MergeReps, r.EditsPerSide, r.EditsPerSide, r.Seed)
	fmt.Fprintln(f, "Atoll signs every change (Ed25519) and verifies every change it receives; automerge signs and verifies nothing.")
	fmt.Fprintln(f, "Times are process CPU / wall clock: on a shared machine the CPU figure is the steady one (see times: below).")
	fmt.Fprintln(f)
	tw := tabwriter.NewWriter(f, 2, 8, 2, ' ', tabwriter.AlignRight)
	row := func(cols ...string) {
		for _, c := range cols {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	row("metric", "atoll", "automerge", "atoll/automerge")
	row("(a) create: time per record", fmtT(a.CreatePerRecord), fmtT(m.CreatePerRecord), fmtR(q.CreateTime))
	row("    atoll minus ed25519 sign+verify", fmtT(*a.CreateExSig), fmtT(m.CreatePerRecord), fmtR(q.CreateTimeExSig))
	row("(a) create: bytes per record", fmtB(a.CreateBytesPerRecord), fmtB(m.CreateBytesPerRecord), fmtX(q.CreateBytes))
	row("(b) update: time per update", fmtT(a.UpdatePerUpdate), fmtT(m.UpdatePerUpdate), fmtR(q.UpdateTime))
	row("    atoll minus ed25519 sign+verify", fmtT(*a.UpdateExSig), fmtT(m.UpdatePerUpdate), fmtR(q.UpdateTimeExSig))
	row("(b) update: bytes per update", fmtB(a.UpdateBytesPerUpdate), fmtB(m.UpdateBytesPerUpdate), fmtX(q.UpdateBytes))
	row("ed25519 alone: sign", fmtT(*a.Sign), "-", "")
	row("ed25519 alone: verify", fmtT(*a.Verify), "-", "")
	row("peer apply: time per created record", fmtT(a.ApplyPerRecord), fmtT(m.ApplyPerRecord), fmtR(ratioT(a.ApplyPerRecord, m.ApplyPerRecord)))
	row("    atoll without signature check", fmtT(*a.ApplyPerRecordNoSig), fmtT(m.ApplyPerRecord), fmtR(ratioT(*a.ApplyPerRecordNoSig, m.ApplyPerRecord)))
	row("peer apply: time per update", fmtT(a.ApplyPerUpdate), fmtT(m.ApplyPerUpdate), fmtR(q.ApplyTime))
	row("    atoll without signature check", fmtT(*a.ApplyPerUpdateNoSig), fmtT(m.ApplyPerUpdate), fmtR(q.ApplyTimeNoSig))
	row("memory after (a)+(b): Go heap in use", fmtMiB(a.GoHeapInuseDelta), fmtMiB(m.GoHeapInuseDelta), "")
	row("memory after (a)+(b): RSS", fmtMiB(a.RSSDelta), fmtMiB(m.RSSDelta), fmtX(q.MemRSSVsRSS))
	row("    RSS after malloc_trim", fmtMiB(a.RSSDeltaTrim), fmtMiB(m.RSSDeltaTrim), "")
	row("    atoll Go heap vs automerge RSS", fmtMiB(a.GoHeapInuseDelta), fmtMiB(m.RSSDelta), fmtX(q.MemHeapVsRSS))
	row("(c) edits on the forks: time per edit", fmtT(a.EditPerEdit), fmtT(m.EditPerEdit), fmtR(ratioT(a.EditPerEdit, m.EditPerEdit)))
	row("(c) merge both ways: time", fmtT(a.Merge), fmtT(m.Merge), fmtR(q.MergeTime))
	row("    atoll without signature check", fmtT(*a.MergeNoSig), fmtT(m.Merge), fmtR(q.MergeTimeNoSig))
	row("(c) merge both ways: bytes", fmtB(a.MergeBytes), fmtB(m.MergeBytes), fmtX(q.MergeBytes))
	row("(c) equal after merge", strconv.FormatBool(a.MergeEqual)+" (digests)", strconv.FormatBool(m.MergeEqual)+" (heads, values)", "")
	row("(c) automerge, batch LoadIncremental: time", "", fmtT(e.ApplyBatch), "")
	row("(c) automerge, Doc.Merge in process: time", "", fmtT(e.DocMerge), "")
	row("(c) automerge, warm sync: time", "", fmtT(e.SyncWarm), "")
	row("    bytes / messages", "", fmtB(e.SyncWarmBytes)+" / "+fmtN(e.SyncWarmMsgs), fmtX(q.MergeBytesVsSync)+" (bytes)")
	row("(c) automerge, cold sync: time", "", fmtT(e.SyncCold), "")
	row("    bytes / messages", "", fmtB(e.SyncColdBytes)+" / "+fmtN(e.SyncColdMsgs), "")
	row("automerge sync handshake, docs equal: bytes", "", fmtB(float64(e.HandshakeBytes)), "")
	row("automerge SaveIncremental of one change: time", "", fmtT(e.SaveIncremental), "")
	row("    bytes", "", fmtB(float64(e.SaveIncrementalBytes)), "")
	tw.Flush()
	fmt.Fprintf(f, "\ntimes: %s\nsignatures: %s\nmemory: %s\nmerge: %s\nwall time %.1f s\n", r.Times, r.Signatures, r.Memory, e.MergeMethod, r.WallSeconds)
}
