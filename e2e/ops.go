package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"atoll/site"
)

// Write makes site i write one change in its own scope (a label of its cluster c0) and
// records it as acknowledged once the site answers.
func (f *Fed) Write(ctx context.Context, i int, label, value string) (string, error) {
	res, err := f.clients[i].Write(ctx, site.WriteRequest{Ops: []site.WriteOp{{
		Op: "set", Kind: "cluster", Key: f.Names[i] + "/c0", Field: "labels/" + label, Value: value,
	}}})
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.acked[res.ID] = i
	f.mu.Unlock()
	return res.ID, nil
}

// Acked returns how many writes were acknowledged.
func (f *Fed) Acked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acked)
}

// Cut stops all traffic between sites i and j.
func (f *Fed) Cut(ctx context.Context, i, j int) error {
	if f.opts.Lab != nil {
		return f.opts.Lab.Cut(i, j)
	}
	if err := f.clients[i].Faults(ctx, site.FaultRequest{Block: []string{f.Names[j]}}); err != nil {
		return err
	}
	return f.clients[j].Faults(ctx, site.FaultRequest{Block: []string{f.Names[i]}})
}

// Partition cuts every link between sites of different groups.
func (f *Fed) Partition(ctx context.Context, groups ...[]int) error {
	if f.opts.Lab != nil {
		return f.opts.Lab.Partition(groups...)
	}
	for a, ga := range groups {
		for _, gb := range groups[a+1:] {
			for _, i := range ga {
				for _, j := range gb {
					if err := f.Cut(ctx, i, j); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// Heal removes every cut. Sites not running are healed when they restart (the transport
// hook lives in the process).
func (f *Fed) Heal(ctx context.Context) error {
	if f.opts.Lab != nil {
		return f.opts.Lab.Heal()
	}
	for _, i := range f.RunningSites() {
		if err := f.clients[i].Faults(ctx, site.FaultRequest{Clear: true}); err != nil {
			return err
		}
	}
	return nil
}

// States returns the state of every running site, in site order.
func (f *Fed) States(ctx context.Context) (map[int]site.State, error) {
	out := map[int]site.State{}
	for _, i := range f.RunningSites() {
		st, err := f.clients[i].State(ctx)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

// WaitMembers waits until every running site sees every other running site as live.
func (f *Fed) WaitMembers(ctx context.Context) error {
	return f.waitFor(ctx, "membership", members)
}

// members reports whether every process that speaks for a site (not a Raft follower) sees
// every other as live.
func members(sts map[int]site.State) bool {
	speakers := 0
	for _, st := range sts {
		if st.Role != "follower" {
			speakers++
		}
	}
	for _, st := range sts {
		if st.Role != "follower" && len(st.Live) != speakers-1 {
			return false
		}
	}
	return true
}

// Converged reports whether all running sites hold the same heads, digest and soft records.
func Converged(sts map[int]site.State) bool {
	var first *site.State
	for _, st := range sts {
		if first == nil {
			first = &st
			continue
		}
		if st.Digest != first.Digest || !slices.Equal(st.Heads, first.Heads) || st.Pending != 0 || st.SoftDigest != first.SoftDigest {
			return false
		}
	}
	return true
}

// WaitConverged waits until every running site holds the same heads and digest.
func (f *Fed) WaitConverged(ctx context.Context) error {
	return f.waitFor(ctx, "convergence", Converged)
}

func (f *Fed) waitFor(ctx context.Context, what string, ok func(map[int]site.State) bool) error {
	var last map[int]site.State
	for {
		sts, err := f.States(ctx)
		if err == nil {
			if ok(sts) {
				return nil
			}
			last = sts
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("e2e: waiting for %s: %w; last states: %s", what, ctx.Err(), summary(last))
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func summary(sts map[int]site.State) string {
	var out []string
	for i, st := range sts {
		d := st.Digest
		if len(d) > 8 {
			d = d[:8]
		}
		sd := st.SoftDigest
		if len(sd) > 8 {
			sd = sd[:8]
		}
		out = append(out, fmt.Sprintf("%d:%s changes=%d pending=%d live=%d soft=%s/%d+%d", i, d, st.Changes, st.Pending, len(st.Live), sd, st.Soft, st.SoftOrphans))
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

// Lost returns the acknowledged writes some running site does not hold.
func (f *Fed) Lost(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	ids := make([]string, 0, len(f.acked))
	for id := range f.acked {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	slices.Sort(ids)
	var lost []string
	for _, id := range ids {
		for _, i := range f.RunningSites() {
			ok, err := f.clients[i].Has(ctx, id, 0)
			if err != nil {
				return nil, err
			}
			if !ok {
				lost = append(lost, id)
				break
			}
		}
	}
	return lost, nil
}

// Visible waits until every running site holds change id and returns, per site, the time
// from start until it did.
func (f *Fed) Visible(ctx context.Context, id string, start time.Time) (map[int]time.Duration, error) {
	var mu sync.Mutex
	out := map[int]time.Duration{}
	var errs []error
	var wg sync.WaitGroup
	for _, i := range f.RunningSites() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := f.clients[i].Has(ctx, id, 30*time.Second)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case !ok:
				errs = append(errs, errors.New(f.Names[i]+": change "+id[:16]+" not visible after 30s"))
			default:
				out[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Seq returns "n" as a label value.
func Seq(n int) string { return strconv.Itoa(n) }
