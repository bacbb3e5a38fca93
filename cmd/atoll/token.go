package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"atoll/site"
	"atoll/site/token"
)

func newTokenCmd() *cobra.Command {
	var audience string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token [--key FILE] [--audience NAME] [--ttl 1h]",
		Short: "Print a short-lived bearer token that proves your identity to sites' HTTP servers",
		Long: `Token signs a bearer token with your key (an admin, site, operator or observer key of the
charter): curl -H "Authorization: Bearer $(atoll token)" https://site:8443/v1/view, the
dashboard's login form, or a Prometheus bearer_token_file.

The audience is the federation's name (every site of it accepts the token) or
"<federation>/<site>" (that site only); without --audience it is asked of the context's
site. A token lives --ttl, at most 24h; sites tolerate one minute of clock skew.`,
		Example: `  atoll token --key operator.key --audience acme-prod --ttl 1h
  curl -H "Authorization: Bearer $(atoll token)" https://eu-west.example:8443/v1/view`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := resolve(cmd)
			if err != nil {
				return err
			}
			tok, _, err := mintToken(cmd, t, audience, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	addTargetFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&audience, "audience", "", `the federation's name, or "<federation>/<site>" (default: asked of the site)`)
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid (at most 24h)")
	return cmd
}

// mintToken signs a token with t's key for audience (asked of t's site if ""), valid ttl.
func mintToken(cmd *cobra.Command, t target, audience string, ttl time.Duration) (tok, aud string, err error) {
	if ttl <= 0 || ttl > token.MaxTTL {
		return "", "", fmt.Errorf("--ttl %v: want more than 0 and at most %v", ttl, token.MaxTTL)
	}
	signer, err := site.LoadKeyFile(t.Key)
	if err != nil {
		return "", "", err
	}
	if audience == "" {
		anon := t
		anon.Key = ""
		c, err := anon.client()
		if err != nil {
			return "", "", err
		}
		defer c.Close()
		if audience, err = c.Federation(cmd.Context()); err != nil {
			return "", "", fmt.Errorf("audience: %w", err)
		}
	}
	tok, err = site.MintToken(signer.PrivateKey(), audience, time.Now(), ttl)
	return tok, audience, err
}
