package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuShare samples what a set of processes and the whole machine have spent on CPU, so
// that a benchmark can say, for a phase, what share of the machine the sites took and
// how busy the machine was: on a small shared machine a phase may be bound by the CPU
// the sites take from the member clusters' control planes.
type cpuShare struct {
	at           time.Time
	procs, total int64 // clock ticks: the processes' user+system; the machine's busy time
}

// sampleCPU reads the CPU time of pids (those gone count 0) and of the machine.
func sampleCPU(pids []int) (cpuShare, error) {
	s := cpuShare{at: time.Now()}
	for _, pid := range pids {
		if t, err := cpuTicks(pid); err == nil {
			s.procs += t
		}
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(b), "\n") // cpu  user nice system idle iowait irq softirq steal ...
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return s, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/stat: %w", err)
		}
		s.total += n
	}
	return s, nil
}

// CPUPhase is what the sites and the machine spent on CPU over one phase of a benchmark,
// in cores (1.0: one core busy throughout).
type CPUPhase struct {
	Sites   float64 `json:"sites_cores"`
	Machine float64 `json:"machine_cores"`
}

// since returns the phase from an earlier sample to this one.
func (s cpuShare) since(from cpuShare) CPUPhase {
	secs := s.at.Sub(from.at).Seconds()
	if secs <= 0 {
		return CPUPhase{}
	}
	return CPUPhase{Sites: float64(s.procs-from.procs) / clockTicks / secs, Machine: float64(s.total-from.total) / clockTicks / secs}
}
