package main

// #include <malloc.h>
// #include <time.h>
// static long long process_cpu_ns(void) {
// 	struct timespec ts;
// 	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
// 	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
// }
import "C"

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// memSnapshot is the process's memory at one point, after garbage collection.
type memSnapshot struct {
	heapInuse uint64 // Go: bytes in in-use heap spans (runtime.MemStats.HeapInuse)
	heapAlloc uint64 // Go: bytes of live heap objects (runtime.MemStats.HeapAlloc)
	rss       uint64 // VmRSS after GC and debug.FreeOSMemory
	rssTrim   uint64 // VmRSS after that and glibc malloc_trim(0) (C heap pages given back)
}

// snapshot collects garbage (several cycles, so automerge-go's finalizers run and free
// their C results), returns freed Go memory to the OS and reads the memory figures.
func snapshot() memSnapshot {
	for range 3 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond) // finalizers run on their own goroutine
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := memSnapshot{heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, rss: vmRSS()}
	C.malloc_trim(0)
	s.rssTrim = vmRSS()
	return s
}

// delta returns b - a field by field, as signed numbers.
func (a memSnapshot) delta(b memSnapshot) (heapInuse, heapAlloc, rss, rssTrim int64) {
	return int64(b.heapInuse) - int64(a.heapInuse), int64(b.heapAlloc) - int64(a.heapAlloc),
		int64(b.rss) - int64(a.rss), int64(b.rssTrim) - int64(a.rssTrim)
}

// vmRSS returns the resident set size from /proc/self/status, in bytes.
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// median returns the median of xs (the mean of the two middle values for an even count).
func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// span is an elapsed time both by the wall clock and as CPU time of the whole process
// (every thread: the garbage collector's and finalizers' work included). On a busy machine
// the wall clock also counts time spent waiting for a CPU; process CPU time does not.
type span struct {
	Wall, CPU time.Duration
}

func (s span) plus(o span) span  { return span{s.Wall + o.Wall, s.CPU + o.CPU} }
func (s span) minus(o span) span { return span{s.Wall - o.Wall, s.CPU - o.CPU} }

// clock is a starting point for a span.
type clock struct {
	wall time.Time
	cpu  time.Duration
}

func startClock() clock { return clock{time.Now(), processCPU()} }

func (c clock) elapsed() span { return span{time.Since(c.wall), processCPU() - c.cpu} }

// processCPU returns the CPU time of the process, all threads (CLOCK_PROCESS_CPUTIME_ID).
func processCPU() time.Duration { return time.Duration(C.process_cpu_ns()) }

// medianSpan returns the medians of the wall and of the CPU times, taken separately.
func medianSpan(ss []span) span {
	var w, c []time.Duration
	for _, s := range ss {
		w = append(w, s.Wall)
		c = append(c, s.CPU)
	}
	return span{median(w), median(c)}
}
