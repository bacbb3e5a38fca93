//go:build !release

package main

import "github.com/spf13/cobra"

// harnessCmds are the commands that drive the project's own tests, benchmarks and demo:
// sim, chaos, e2e and demo. They link the test harness (chaos, e2e, e2e/netlab,
// deploy/testenv, examples/demo), which the release binary leaves out: it is built with
// -tags release, as the Dockerfile does (release.go).
func harnessCmds() []*cobra.Command {
	return []*cobra.Command{newSimCmd(), newChaosCmd(), newE2ECmd(), newDemoCmd()}
}
