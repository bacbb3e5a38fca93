package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"atoll/site"
)

func newSiteCmd() *cobra.Command {
	var config, level string
	cmd := &cobra.Command{
		Use:     "site --config site.yaml",
		Short:   "Run a site: join the federation, replicate its state, serve the local API",
		Example: `  atoll site --config us-east/site.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := site.LoadConfig(config)
			if err != nil {
				return err
			}
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(level)); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})).With("site", cfg.Name)
			s, err := site.Open(cfg, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return s.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&config, "config", "site.yaml", "the site's configuration file")
	cmd.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error")
	return cmd
}
