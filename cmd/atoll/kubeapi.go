package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"atoll/deploy/fedapi"
)

// newKubeAPICmd is what a deployment that runs a site's federation API server in
// containers of its own (the Helm chart) needs from the site: the PKI, before the
// containers start, and their arguments.
func newKubeAPICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kubeapi",
		Short: "Set up the etcd and kube-apiserver of a site's Kubernetes API run beside it (kubeAPI.external)",
		Long: `A site with kubeAPI: {external: true} does not start its federation API server: etcd and
kube-apiserver run beside it (the Helm chart's containers of the site's pod, sharing its
loopback and its data volume) with the arguments "atoll kubeapi args" prints, once
"atoll kubeapi prepare" has written their certificates and keys (the chart's init
container). The site then attaches to the apiserver at 127.0.0.1:6443.`,
	}
	var dir string
	prepare := &cobra.Command{
		Use:   "prepare --dir DIR",
		Short: "Write, or keep, the certificates, keys and tokens the API server's processes read",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := kubeAPIDir(dir)
			if err != nil {
				return err
			}
			if err := fedapi.Prepare(d); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "prepared", d)
			return err
		},
	}
	args := &cobra.Command{
		Use:   "args --dir DIR",
		Short: "Print the arguments of etcd and of kube-apiserver, as YAML",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := kubeAPIDir(dir)
			if err != nil {
				return err
			}
			etcd, api := fedapi.PodArgs(d)
			b, err := yaml.Marshal(map[string][]string{"etcd": etcd, "kube-apiserver": api})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	for _, c := range []*cobra.Command{prepare, args} {
		c.Flags().StringVar(&dir, "dir", "", "the site's kubeAPI.dir (default <dataDir>/kubeapi), as an absolute path")
		_ = c.MarkFlagRequired("dir")
	}
	cmd.AddCommand(prepare, args)
	return cmd
}

func kubeAPIDir(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("--dir %q: want an absolute path, the one the containers mount", dir)
	}
	return filepath.Clean(dir), nil
}
