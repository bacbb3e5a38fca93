package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

func newKubeconfigCmd() *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "kubeconfig [--server URL --key FILE | --context NAME] [--ttl 24h]",
		Short: "Print a kubeconfig for a site's Kubernetes API, as your charter identity",
		Long: `Kubeconfig prints a kubeconfig for the Kubernetes API a site serves (site.yaml kubeAPI:),
through its HTTP server at <server>/k8s: kubectl, Helm and GitOps tools then act as your
charter identity, with a bearer token your key signs (valid --ttl, at most 24h). The
site's API server authorizes with RBAC written from the charter: an operator edits the
templates and policies of its namespaces (and the cluster-scoped policies with "*");
observers, admins and sites read.`,
		Example: `  atoll kubeconfig --server https://eu-west.example:8443 --key operator.key > eu-west.kubeconfig
  kubectl --kubeconfig eu-west.kubeconfig apply -f app.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := resolve(cmd)
			if err != nil {
				return err
			}
			if t.Server == "" || t.Key == "" {
				return fmt.Errorf("kubeconfig needs a site's HTTP server and your key: --server and --key, or a context with both")
			}
			tok, audience, err := mintToken(cmd, t, "", ttl)
			if err != nil {
				return err
			}
			cluster := map[string]any{"server": strings.TrimSuffix(t.Server, "/") + "/k8s"}
			if t.CA != "" {
				b, err := os.ReadFile(t.CA)
				if err != nil {
					return fmt.Errorf("ca: %w", err)
				}
				cluster["certificate-authority-data"] = base64.StdEncoding.EncodeToString(b)
			}
			name := audience
			kc := map[string]any{
				"apiVersion": "v1", "kind": "Config", "current-context": name,
				"clusters": []any{map[string]any{"name": name, "cluster": cluster}},
				"users":    []any{map[string]any{"name": name, "user": map[string]any{"token": tok}}},
				"contexts": []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
			}
			b, err := yaml.Marshal(kc)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	addTargetFlags(cmd.Flags(), false)
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token in it is valid (at most 24h)")
	return cmd
}
