//go:build !release

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"atoll/e2e"
)

func newE2EUpgradeCmd() *cobra.Command {
	var fl e2eFlags
	var replicas int
	var from, to string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Replace each site process's binary in turn while writing; check no acknowledged write is lost (prints JSON)",
		Long: `Upgrade starts a federation on the --from binary, site 0 as --replicas Raft replicas,
and writes continuously at random processes. It then stops each process with SIGTERM,
restarts it on the --to binary and waits until it reports --to's version, is a member
again, its Raft group has a leader and it has caught up, before the next: sites from the
last to the first, site 0's followers before its leader. At the end the sites must hold
the same state with every acknowledged write. The last line is the JSON report: writes
acknowledged and refused, the longest gap between acknowledged writes, and per process
the time to stop, start and be ready, and the writes acknowledged meanwhile.`,
		Example: `  atoll e2e upgrade --json
  atoll e2e upgrade --from ./atoll-v0.1 --to ./bin/atoll --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fl.netns && replicas > 1 {
				return errors.New("--netns runs one process per site: use --replicas 1")
			}
			o, cleanup, err := fl.options()
			if err != nil {
				return err
			}
			defer cleanup()
			o.Replicas = replicas
			if from != "" {
				o.Binary = from
			}
			target := e2e.UpgradeTarget{Binary: o.Binary, Seed: seed}
			if to != "" {
				target.Binary = to
			}
			if target.Version, err = binaryVersion(cmd.Context(), target.Binary); err != nil {
				return err
			}
			rep, err := e2e.RunUpgrade(cmd.Context(), o, target)
			if err != nil {
				rep.Error = err.Error()
			}
			if err := printJSON(cmd, rep); err != nil {
				return err
			}
			if rep.Error != "" {
				return fmt.Errorf("upgrade: %s", rep.Error)
			}
			if !rep.DigestsEqual || rep.LostAcknowledgedWrites > 0 {
				return fmt.Errorf("upgrade: digests equal %v, %d acknowledged writes lost", rep.DigestsEqual, rep.LostAcknowledgedWrites)
			}
			return nil
		},
	}
	fl.bind(cmd, 4)
	cmd.Flags().IntVar(&replicas, "replicas", 3, "Raft replicas of site 0 (1: a plain site)")
	cmd.Flags().StringVar(&from, "from", "", "the binary the sites start on (default: this one)")
	cmd.Flags().StringVar(&to, "to", "", "the binary each site is restarted on (default: this one)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the writer's choice of process (0: random, reported)")
	cmd.Flags().Bool("json", true, "print the report as one JSON line (always on)")
	return cmd
}

// binaryVersion asks an atoll binary for its version (atoll version --json).
func binaryVersion(ctx context.Context, path string) (string, error) {
	out, err := exec.CommandContext(ctx, path, "version", "--json").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", path, err)
	}
	var b buildInfo
	if err := json.Unmarshal(out, &b); err != nil {
		return "", fmt.Errorf("%s version: %w", path, err)
	}
	return b.Version, nil
}
