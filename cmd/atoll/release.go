//go:build release

package main

import "github.com/spf13/cobra"

// harnessCmds: the release binary carries no test harness (harness.go).
func harnessCmds() []*cobra.Command { return nil }
