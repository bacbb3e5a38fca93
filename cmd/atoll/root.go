package main

import "github.com/spf13/cobra"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "atoll",
		Short:         "A decentralized federation of Kubernetes clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addContextFlags(root)
	root.AddCommand(
		newSimCmd(),
		newKeysCmd(),
		newCharterCmd(),
		newSiteCmd(),
		newObserveCmd(),
		newE2ECmd(),
		newClusterCmd(),
		newApplyCmd(),
		newGetCmd(),
		newDeleteCmd(),
		newConfigCmd(),
		newDescribeCmd(),
		newAuditCmd(),
		newTokenCmd(),
		newChaosCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newDemoCmd(),
		newVersionCmd(),
	)
	return root
}
