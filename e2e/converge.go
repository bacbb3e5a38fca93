package e2e

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ConvergeOptions describe the partition-and-heal scenario.
type ConvergeOptions struct {
	Options
	Partition time.Duration // how long the federation stays split in two
	Rate      float64       // writes per second per site during the partition
}

// ConvergeReport is the scenario's outcome; its JSON is `atoll e2e converge`'s last line.
type ConvergeReport struct {
	Sites                  int     `json:"sites"`
	Writes                 int     `json:"writes"`
	PartitionKind          string  `json:"partition_kind"` // "transport" or "netns"
	PartitionedMs          int64   `json:"partitioned_ms"`
	ConvergeAfterHealMs    int64   `json:"converge_after_heal_ms"`
	DigestsEqual           bool    `json:"digests_equal"`
	LostAcknowledgedWrites int     `json:"lost_acknowledged_writes"`
	Changes                int     `json:"changes"`       // changes every site holds at the end
	SyncSessions           uint64  `json:"sync_sessions"` // started by all sites during heal
	SyncBytes              uint64  `json:"sync_bytes"`    // session bytes during heal
	SyncPayloadBytes       uint64  `json:"sync_payload_bytes"`
	SyncOverPayload        float64 `json:"sync_over_payload"` // sync_bytes / sync_payload_bytes
	SyncMessages           uint64  `json:"sync_messages"`     // messages of those sessions (both ends count each)
	Error                  string  `json:"error,omitempty"`
}

// RunConverge starts a federation, splits it into two groups, writes on every site of both
// sides, heals and measures how long the sites take to agree. The federation is stopped
// before it returns.
func RunConverge(ctx context.Context, o ConvergeOptions) (ConvergeReport, error) {
	rep := ConvergeReport{Sites: o.Sites, PartitionKind: "transport"}
	if o.Lab != nil {
		rep.PartitionKind = "netns"
	}
	f, err := Start(ctx, o.Options)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	if err := f.WaitMembers(ctx); err != nil {
		return rep, err
	}
	n := len(f.Names)
	var a, b []int
	for i := range n {
		if i < n/2 {
			a = append(a, i)
		} else {
			b = append(b, i)
		}
	}
	if err := f.Partition(ctx, a, b); err != nil {
		return rep, err
	}
	start := time.Now()
	if err := f.writeAll(ctx, o.Partition, o.Rate); err != nil {
		return rep, err
	}
	rep.PartitionedMs = time.Since(start).Milliseconds()
	before, err := f.States(ctx)
	if err != nil {
		return rep, err
	}
	healed := time.Now()
	if err := f.Heal(ctx); err != nil {
		return rep, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err = f.WaitConverged(cctx)
	cancel()
	rep.ConvergeAfterHealMs = time.Since(healed).Milliseconds()
	after, serr := f.States(ctx)
	if serr != nil {
		return rep, serr
	}
	rep.DigestsEqual = err == nil && Converged(after)
	rep.Writes = f.Acked()
	for i, st := range after {
		rep.Changes = st.Changes
		d := func(k string) uint64 { return st.Counters[k] - before[i].Counters[k] }
		rep.SyncSessions += d("sessionsOut")
		rep.SyncBytes += d("syncBytes")
		rep.SyncPayloadBytes += d("syncPayload")
		rep.SyncMessages += d("syncMessages")
	}
	if rep.SyncPayloadBytes > 0 {
		rep.SyncOverPayload = float64(rep.SyncBytes) / float64(rep.SyncPayloadBytes)
	}
	lost, lerr := f.Lost(ctx)
	if lerr != nil {
		return rep, lerr
	}
	rep.LostAcknowledgedWrites = len(lost)
	if err != nil {
		rep.Error = err.Error()
	}
	return rep, nil
}

// writeAll has every running site write at rate changes per second for d.
func (f *Fed) writeAll(ctx context.Context, d time.Duration, rate float64) error {
	if rate <= 0 {
		rate = 5
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(f.Names))
	for _, i := range f.RunningSites() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer t.Stop()
			for k := 0; ; k++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if _, err := f.Write(ctx, i, fmt.Sprintf("k%d", k%50), Seq(k)); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
