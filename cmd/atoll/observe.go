package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"atoll/site"
)

func newObserveCmd() *cobra.Command {
	var config string
	var cfg site.Config
	var lf logFlags
	cmd := &cobra.Command{
		Use:   "observe --identity KEY --genesis FILE --seeds HOST:PORT --http HOST:PORT",
		Short: "Join the federation read-only, as a charter observer, and serve the dashboard and read API",
		Long: `observe keeps a replica of the federation's state, pulled from the sites through
anti-entropy sessions it starts, and serves the same dashboard, read API and metrics as
a site. The identity must be an observer of the charter. An observer signs nothing,
pushes nothing and runs no clusters; bounded workloads' bodies stay redacted at it.`,
		Example: `  atoll observe --name dashboard --identity dashboard.key --genesis genesis.atoll \
      --seeds 10.0.1.5:7946 --listen 10.0.9.2:7946 --http 127.0.0.1:8090 --data observe-data
  atoll observe --config observe.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config != "" {
				c, err := site.LoadConfig(config)
				if err != nil {
					return err
				}
				cfg = c
			} else {
				// Relative paths in flags are relative to the working directory.
				wd, err := os.Getwd()
				if err != nil {
					return err
				}
				cfg.SetDir(wd)
				if cfg.Name == "" {
					cfg.Name = trimExt(filepath.Base(cfg.Identity))
				}
			}
			cfg.Observer = true
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("observe: %w", err)
			}
			return runDaemon(cfg, lf)
		},
	}
	f := cmd.Flags()
	f.StringVar(&config, "config", "", "a site.yaml-shaped file (observer: true is implied); instead of the flags below")
	f.StringVar(&cfg.Name, "name", "", "the observer's name in the charter (default: the identity file's name)")
	f.StringVar(&cfg.Identity, "identity", "", "the observer's key file (atoll keys new)")
	f.StringVar(&cfg.Genesis, "genesis", "genesis.atoll", "the federation's genesis charter change")
	f.StringSliceVar(&cfg.Seeds, "seeds", nil, "host:port of sites to join through")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:7950", "host:port the sites reach this observer at (TCP and UDP)")
	f.StringVar(&cfg.HTTP, "http", "127.0.0.1:8090", "host:port of the dashboard and read API")
	f.StringVar(&cfg.DataDir, "data", "observe-data", "directory of the observer's data file")
	f.StringVar(&cfg.Profile, "profile", "", "membership timing: wan (default), wan-legacy, lan or local")
	lf.add(cmd)
	return cmd
}

func trimExt(name string) string { return name[:len(name)-len(filepath.Ext(name))] }
