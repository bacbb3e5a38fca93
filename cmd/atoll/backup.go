package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"atoll/site"
	"atoll/site/store"
)

func newBackupCmd() *cobra.Command {
	var config, file string
	cmd := &cobra.Command{
		Use:   "backup -f FILE|- [--site site.yaml]",
		Short: "Copy a running site's data file, consistent at one instant, while it runs",
		Long: `Backup asks the running site, through its local API, for a copy of its data file
taken in one read transaction, so writes go on meanwhile. The copy goes to a temporary file
beside FILE, is checked by loading every change into a replica built from the site's
genesis, and only then is renamed to FILE; with -f - it is written to stdout once checked.
It prints the size, the changes held and the digest of their state (stderr with -f -).

Bring a site back from the copy with atoll restore.`,
		Example: `  atoll backup -f /backups/us-east.db --site us-east.yaml
  atoll backup -f - --site us-east.yaml | gzip > us-east.db.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := site.LoadConfig(config)
			if err != nil {
				return err
			}
			dir, name := filepath.Dir(file), filepath.Base(file)
			if file == "-" {
				dir, name = "", "atoll-backup"
			}
			tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			defer os.Remove(tmp.Name()) // fails harmlessly once renamed
			c := site.NewClient(cfg.SocketPath())
			defer c.Close()
			_, err = c.Backup(cmd.Context(), tmp)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			info, err := site.VerifyBackup(cfg, tmp.Name())
			if err != nil {
				return fmt.Errorf("backup: the copy the site sent does not load: %w", err)
			}
			out := cmd.OutOrStdout()
			if file == "-" {
				if err := copyFile(out, tmp.Name()); err != nil {
					return fmt.Errorf("backup: %w", err)
				}
				out = cmd.ErrOrStderr()
			} else {
				if err := os.Rename(tmp.Name(), file); err != nil {
					return fmt.Errorf("backup: %w", err)
				}
				if err := store.SyncDir(dir); err != nil {
					return fmt.Errorf("backup: %w", err)
				}
			}
			dest := file
			if file == "-" {
				dest = "stdout"
			}
			fmt.Fprintf(out, "backup of %s written to %s: %d bytes, %d changes, digest %s\n", cfg.Name, dest, info.Bytes, info.Changes, info.Digest)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "where to write the copy; - for stdout")
	cmd.Flags().StringVar(&config, "site", "site.yaml", "the site's configuration file (its local API, genesis and identity)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	var config, file string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore -f FILE [--force] [--site site.yaml]",
		Short: "Bring a stopped site's data file back from a backup",
		Long: `Restore replaces the data file of a stopped site with a backup made by atoll backup.
It refuses while the site runs (its local API answers or its data file is locked), and
checks the whole backup first, loading every change into a replica built from the site's
genesis: a truncated or damaged backup is refused with what is wrong, and nothing in the
data dir is touched.

The current data file is kept as atoll.db.before-restore-<UTC time>, then the backup, copied
into the data dir and checked again, is renamed into place. A data file of another
federation (another genesis) than the backup's is replaced only with --force. A replica of
a site under Raft cannot be restored.

Started again, the site fetches what happened since the backup from its peers by
anti-entropy.`,
		Example: `  atoll restore -f /backups/us-east.db --site us-east.yaml
  atoll site --config us-east.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := site.LoadConfig(config)
			if err != nil {
				return err
			}
			res, err := site.Restore(cmd.Context(), cfg, file, site.RestoreOptions{Force: force, Now: time.Now()})
			if err != nil {
				return err
			}
			if res.ReplacedErr != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: the replaced data file did not load:", res.ReplacedErr)
			}
			b := res.Backup
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s from %s: %d bytes, %d changes, digest %s\n", b.Path, file, b.Bytes, b.Changes, b.Digest)
			if res.Kept != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "the previous data file is kept as %s\n", res.Kept)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the backup to restore")
	cmd.Flags().StringVar(&config, "site", "site.yaml", "the site's configuration file (its data dir, genesis and identity)")
	cmd.Flags().BoolVar(&force, "force", false, "replace a data file of another federation than the backup's")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// copyFile writes the file at path to w.
func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
