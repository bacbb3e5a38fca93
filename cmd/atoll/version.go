package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is this binary's version: "dev" unless the build sets it with
// -ldflags "-X main.version=v1.2.3". main hands it to the site (site.Version).
var version = "dev"

// buildInfo is what `atoll version` prints.
type buildInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Revision string `json:"revision,omitempty"` // VCS commit, if the build recorded one
	Time     string `json:"time,omitempty"`     // of that commit, RFC 3339
	Modified bool   `json:"modified,omitempty"` // the working tree had changes
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the Go version and the VCS revision of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, out := readBuildInfo(), cmd.OutOrStdout()
			if asJSON {
				j, err := json.Marshal(b)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(j))
				return nil
			}
			rev := b.Revision
			switch {
			case rev == "":
				rev = "unknown"
			case b.Modified:
				rev += " (modified)"
			}
			fmt.Fprintf(out, "atoll %s\ngo %s\nrevision %s\n", b.Version, b.Go, rev)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
