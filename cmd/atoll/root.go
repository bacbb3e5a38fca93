package main

import "github.com/spf13/cobra"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "atoll",
		Short:         "A decentralized federation of Kubernetes clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newSimCmd(),
		newKeysCmd(),
		newSiteCmd(),
		newObserveCmd(),
		newE2ECmd(),
		newClusterCmd(),
		newApplyCmd(),
		newDescribeCmd(),
		newAuditCmd(),
		newChaosCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newDemoCmd(),
	)
	return root
}
