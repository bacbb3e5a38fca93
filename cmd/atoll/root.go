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
		newKeysCmd(),
		newCharterCmd(),
		newSiteCmd(),
		newSitesCmd(),
		newObserveCmd(),
		newClusterCmd(),
		newApplyCmd(),
		newGetCmd(),
		newDeleteCmd(),
		newConfigCmd(),
		newDescribeCmd(),
		newAuditCmd(),
		newTokenCmd(),
		newKubeconfigCmd(),
		newKubeAPICmd(),
		newImportCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newVersionCmd(),
	)
	root.AddCommand(harnessCmds()...)
	return root
}
