package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"atoll/site"
)

func newSiteCmd() *cobra.Command {
	var config string
	var lf logFlags
	cmd := &cobra.Command{
		Use:   "site --config site.yaml",
		Short: "Run a site: join the federation, replicate its state, serve the local API",
		Example: `  atoll site --config us-east/site.yaml
  atoll site --config us-east/site.yaml --log-format json --log-level debug`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := site.LoadConfig(config)
			if err != nil {
				return err
			}
			return runDaemon(cfg, lf)
		},
	}
	cmd.Flags().StringVar(&config, "config", "site.yaml", "the site's configuration file")
	lf.add(cmd)
	return cmd
}

// logFlags choose the daemon's log/slog handler.
type logFlags struct{ level, format string }

func (f *logFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.level, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&f.format, "log-format", "text", "text (key=value) or json")
}

func (f logFlags) logger(name string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(f.level)); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch f.format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)).With("site", name), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)).With("site", name), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.format)
}

// runDaemon runs a site or observer until SIGINT or SIGTERM.
func runDaemon(cfg site.Config, lf logFlags) error {
	log, err := lf.logger(cfg.Name)
	if err != nil {
		return err
	}
	s, err := site.Open(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return s.Run(ctx)
}
