package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"atoll/crdt"
	"atoll/site"
	"atoll/site/transport"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create identities and the federation's genesis charter",
	}
	cmd.AddCommand(newKeysNewCmd(), newKeysPubCmd(), newKeysCertCmd(), newKeysCharterCmd())
	return cmd
}

func newKeysNewCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "new FILE",
		Short: "Create an Ed25519 identity (site, admin, operator or observer) and print its public key",
		Example: `  atoll keys new us-east.key
  ed25519:3q2+7w...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := site.NewKeyFile(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), site.FormatKey(pub))
			return nil
		},
	}
}

func newKeysPubCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pub FILE",
		Short: "Print the public key of an identity file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := site.LoadKeyFile(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), site.FormatKey(s.Public()))
			return nil
		},
	}
}

func newKeysCertCmd() *cobra.Command {
	var out, name string
	cmd := &cobra.Command{
		Use:   "cert FILE -o CERT",
		Short: "Write a TLS client certificate self-signed by an identity, for a site's HTTPS server",
		Long: `Cert writes a certificate of the identity's key, self-signed by it, valid for a year. A
site's HTTP server with httpCert and httpKey asks for client certificates: the one of a
charter key proves that identity (the key is what counts: the name and dates are not
checked). Give it with the key file to a client that cannot mint tokens, such as a
Prometheus scrape job (docs/DEPLOY.md).`,
		Example: `  atoll keys cert prometheus.key -o prometheus.crt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := site.LoadKeyFile(args[0])
			if err != nil {
				return err
			}
			cert, err := transport.SelfSigned(name, s.PrivateKey(), time.Now())
			if err != nil {
				return err
			}
			b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return os.WriteFile(out, b, 0o644)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "-", "the certificate file (PEM); - for stdout")
	cmd.Flags().StringVar(&name, "name", "atoll-client", "the certificate's common name (informative only)")
	return cmd
}

func newKeysCharterCmd() *cobra.Command {
	var file, out string
	var signers []string
	cmd := &cobra.Command{
		Use:     "charter -f federation.yaml --sign admin.key... -o genesis.atoll",
		Short:   "Sign a federation's genesis charter with at least threshold admin keys",
		Example: `  atoll keys charter -f federation.yaml --sign alice.key --sign bob.key -o genesis.atoll`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := site.LoadCharterFile(file)
			if err != nil {
				return err
			}
			var keys []*crdt.Signer
			for _, p := range signers {
				k, err := site.LoadKeyFile(p)
				if err != nil {
					return err
				}
				keys = append(keys, k)
			}
			env, err := crdt.NewGenesis(spec, keys...)
			if err != nil {
				return fmt.Errorf("charter %s: %w", file, err)
			}
			if err := os.WriteFile(out, env.Encode(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "genesis %s: charter %q, %d sites, id %s\n", out, spec.Name, len(spec.Sites), env.ID.Hex())
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "federation.yaml describing admins, sites, operators, observers")
	cmd.Flags().StringArrayVar(&signers, "sign", nil, "admin key file to sign with (repeat; the first is the author)")
	cmd.Flags().StringVarP(&out, "out", "o", "genesis.atoll", "where to write the genesis change")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}
