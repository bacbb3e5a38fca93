package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	yamlv3 "go.yaml.in/yaml/v3"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show and switch the contexts of the context file (kubeconfig-style)",
		Long: `The context file names ways to reach a site, kubeconfig-style:

  current-context: us-east
  contexts:
  - name: us-east
    site: /etc/atoll/us-east.yaml        # a local site's config: its unix-socket API
    key: /home/me/.atoll/operator.key    # the operator key that signs writes
  - name: eu-west
    server: https://eu-west.example:8443 # a site's HTTP server: reads and signed changes
    key: operator.key                    # relative to this file

Every command that talks to a site takes the context named by --context, else the
current-context; an explicit --site, --server or --key wins over the context.`,
	}
	load := func(cmd *cobra.Command) (*contextFile, string, error) {
		path, explicit := contextPath(flagValue(cmd.Flags(), "atollconfig"))
		cf, err := loadContextFile(path, explicit)
		if err == nil && cf == nil {
			err = fmt.Errorf("no context file at %s", path)
		}
		return cf, path, err
	}
	get := &cobra.Command{
		Use:     "get-contexts",
		Short:   "List the contexts; * marks the current one",
		Example: `  atoll config get-contexts --atollconfig ./atoll.config`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cf, _, err := load(cmd)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tSITE\tSERVER\tKEY")
			for _, c := range cf.Contexts {
				cur := ""
				if c.Name == cf.CurrentContext {
					cur = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cur, c.Name, dash(c.Site), dash(c.Server), dash(c.Key))
			}
			return tw.Flush()
		},
	}
	current := &cobra.Command{
		Use:     "current-context",
		Short:   "Print the current context's name",
		Example: `  atoll config current-context`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cf, path, err := load(cmd)
			if err != nil {
				return err
			}
			if cf.CurrentContext == "" {
				return fmt.Errorf("%s sets no current-context", path)
			}
			fmt.Fprintln(cmd.OutOrStdout(), cf.CurrentContext)
			return nil
		},
	}
	use := &cobra.Command{
		Use:     "use-context NAME",
		Short:   "Make NAME the current context (rewrites current-context in the file)",
		Example: `  atoll config use-context eu-west`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, path, err := load(cmd)
			if err != nil {
				return err
			}
			if _, err := cf.lookup(path, args[0]); err != nil {
				return err
			}
			if err := setCurrentContext(path, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "switched to context %q\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(get, current, use)
	return cmd
}

// setCurrentContext rewrites the current-context of a context file in place, keeping
// its comments and the rest of its layout.
func setCurrentContext(path, name string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := withCurrentContext(b, name)
	if err != nil {
		return fmt.Errorf("context file %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// withCurrentContext returns the YAML document b with current-context set to name.
func withCurrentContext(b []byte, name string) ([]byte, error) {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yamlv3.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yamlv3.MappingNode {
		return nil, errors.New("not a mapping")
	}
	m := doc.Content[0]
	val := &yamlv3.Node{Kind: yamlv3.ScalarNode, Value: name}
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "current-context" {
			m.Content[i+1], found = val, true
		}
	}
	if !found {
		key := &yamlv3.Node{Kind: yamlv3.ScalarNode, Value: "current-context"}
		m.Content = append([]*yamlv3.Node{key, val}, m.Content...)
	}
	var buf bytes.Buffer
	enc := yamlv3.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
