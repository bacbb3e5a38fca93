package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/site"
	"atoll/site/amend"
)

func newCharterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "charter",
		Short: "Show the charter, and amend it with the signatures of m of n admins",
		Long: `Charter amends a running federation's charter offline, admin by admin:

  propose  writes an amendment file built on a site's current charter, signed by you
  sign     adds one admin's signature, on that admin's machine
  submit   hands the signed change to a site, once it holds the charter's threshold

The file travels between admins by mail or git; it holds the exact change every admin
signs, the charter before and the diff. The sites check the assembled change against
the charter it builds on (docs/SECURITY.md), whatever the file says.`,
	}
	cmd.AddCommand(newCharterShowCmd(), newCharterProposeCmd(), newCharterSignCmd(), newCharterSubmitCmd())
	return cmd
}

func newCharterShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show [-o yaml|json]",
		Short: "Print the charter in force at a site and its history of charter changes",
		Example: `  atoll charter show --context us-east
  atoll charter show -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Charter(cmd.Context())
			if err != nil {
				return err
			}
			switch output {
			case "":
				printCharter(cmd.OutOrStdout(), st)
				return nil
			case "yaml", "json":
				return printAs(cmd.OutOrStdout(), output, st)
			}
			return fmt.Errorf("output %q: want yaml or json", output)
		},
	}
	addTargetFlags(cmd.Flags(), false)
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json for the whole answer")
	return cmd
}

func printAs(w io.Writer, format string, v any) error {
	b, err := yaml.Marshal(v)
	if err == nil && format == "json" {
		b, err = yaml.YAMLToJSON(b)
		b = append(b, '\n')
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func printCharter(out io.Writer, st site.CharterState) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	d := st.Charter
	fmt.Fprintf(w, "Charter %q: %d of %d admin signatures change it\n", d.Name, d.Threshold, len(d.Admins))
	if d.MaxReplicas > 0 {
		fmt.Fprintf(w, "maxReplicas: %d\n", d.MaxReplicas)
	}
	fmt.Fprintf(w, "format: level %d (this release implements up to %d)\n", max(d.Format, 1), crdt.MaxFormat)
	if q := d.Quota; q != nil {
		fmt.Fprintf(w, "quota: %d bytes per operator, %d workloads per namespace", q.Bytes, q.Objects)
		for ns, n := range q.Namespaces {
			fmt.Fprintf(w, ", %s: %d", ns, n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nSITES\tREGION\tJURISDICTION\tKEY")
	for _, s := range d.Sites {
		name := s.Name
		if s.Draining {
			name += " (draining)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", name, s.Region, s.Jurisdiction, s.Key)
	}
	fmt.Fprintln(w, "\nADMINS\tKEY")
	for _, m := range d.Admins {
		fmt.Fprintf(w, "%s\t%s\n", m.Name, m.Key)
	}
	if len(d.Operators) > 0 {
		fmt.Fprintln(w, "\nOPERATORS\tNAMESPACES\tQUOTA\tKEY")
		for _, o := range d.Operators {
			q := "-"
			if o.QuotaBytes > 0 {
				q = strconv.FormatUint(o.QuotaBytes, 10)
			}
			ns := strings.Join(o.Namespaces, ",")
			if o.ClusterScope {
				ns += " +cluster scope"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.Name, ns, q, o.Key)
		}
	}
	if len(d.Observers) > 0 {
		fmt.Fprintln(w, "\nOBSERVERS\tKEY")
		for _, m := range d.Observers {
			fmt.Fprintf(w, "%s\t%s\n", m.Name, m.Key)
		}
	}
	if len(st.History) > 0 {
		fmt.Fprintln(w, "\nHISTORY\tLAMPORT\tSIGNED BY\tFIELDS\tEFFECT")
		for _, h := range st.History {
			effect := "in force"
			if h.Void {
				effect = "void (a signer's key was revoked)"
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%d fields\t%s\n", h.ID[:12], h.Lamport, strings.Join(append([]string{h.Author}, h.Cosigners...), ","), len(h.Fields), effect)
		}
	}
}

// proposeFlags are the edits of `atoll charter propose`, as given.
type proposeFlags struct {
	addSite, removeSite, addOperator, removeOperator   []string
	drainSite, undrainSite, moveSite                   []string
	force                                              bool
	addObserver, removeObserver, addAdmin, removeAdmin []string
	rotate                                             []string
	grantClusterScope, revokeClusterScope              []string
	threshold, format                                  int
}

func newCharterProposeCmd() *cobra.Command {
	var p proposeFlags
	var out, desc string
	cmd := &cobra.Command{
		Use:   "propose EDITS... -o amendment.yaml",
		Short: "Write an amendment of the charter a site holds now, signed by you (an admin) as its author",
		Long: `Propose fetches the charter in force and the heads of a site (the context, or --site/
--server), applies the edits, checks them (names, keys, admins, threshold), and writes
the amendment file with your signature: --key is an admin's key, the change's author.
Other admins add theirs with 'atoll charter sign'.

An entry's fields are comma-separated key=value pairs; a key is ed25519:<base64> or a
key file (its public key is taken); namespaces may list several: namespaces=shop,bank.

A region leaves in two amendments: --drain-site hands its share of every workload to
the other sites, make-before-break (it keeps its replicas until theirs are ready);
--remove-site then takes it out of the charter. Propose refuses --remove-site while
the federation's view shows the site not drained or still running replicas, unless
--force (a site that is gone for good never reports zero).

--format N raises the charter's format level (docs/adr/0013-format-levels.md): what a
level enables (level 2: dividing Jobs, and their counts in the sites' status) stays off
until the charter reaches it, and every site switches at once. Upgrade every site to a
release that implements the level first: a site behind it cannot take part. Propose
refuses a level this release does not implement unless --force, and never lowers one.`,
		Example: `  atoll charter propose --key alice.key \
    --add-site name=ap-south,key=ed25519:q83v...,region=ap-south-1,jurisdiction=IN \
    -m "ap-south joins" -o ap-south.yaml
  atoll charter propose --key alice.key --rotate admin/bob=ed25519:3q2+7w... --threshold 3
  atoll charter propose --key alice.key --add-operator name=shop,key=shop.key,namespaces=shop,web
  atoll charter propose --key alice.key --drain-site ap-south -o drain.yaml
  atoll charter propose --key alice.key --remove-site ap-south -o remove.yaml
  atoll charter propose --key alice.key --format 2 -m "divide Jobs" -o format2.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			edits, err := p.edits()
			if err != nil {
				return err
			}
			c, t, err := connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			author, err := site.LoadKeyFile(t.Key)
			if err != nil {
				return fmt.Errorf("the proposing admin's key (--key): %w", err)
			}
			st, err := c.Charter(cmd.Context())
			if err != nil {
				return err
			}
			if edits.Format > crdt.MaxFormat && !p.force {
				return fmt.Errorf("propose: format %d: this release implements levels up to %d; a site that runs it could not take part (--force proposes it anyway, for sites already upgraded past it)", edits.Format, crdt.MaxFormat)
			}
			if edits.Format > 0 && !p.force {
				published := map[string]string{}
				for _, s := range st.Charter.Sites {
					obj, err := c.Object(cmd.Context(), "site", s.Name)
					if err != nil {
						return fmt.Errorf("propose: reading site %s's published release: %w", s.Name, err)
					}
					published[s.Name] = obj["version"].Value
				}
				if err := site.CheckLevel(edits.Format, published); err != nil {
					return fmt.Errorf("propose: %w (--force proposes it anyway)", err)
				}
			}
			if len(edits.RemoveSites) > 0 && !p.force {
				v, err := c.View(cmd.Context())
				if err != nil {
					return fmt.Errorf("propose: reading the federation's view, to check the sites removed run nothing: %w", err)
				}
				if err := amend.CheckRemovals(edits, v.Sites); err != nil {
					return fmt.Errorf("propose: %w", err)
				}
			}
			a, err := amend.Propose(st.Charter, st.Tip, author.Public(), edits)
			if err != nil {
				return fmt.Errorf("propose: %w", err)
			}
			a.Description = desc
			if err := a.Sign(author); err != nil {
				return err
			}
			if err := writeAmendment(out, a); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "amendment %s of charter %q, on %d heads at %s:\n", out, a.Federation, len(a.Change.Deps), c.Addr())
			printStatus(w, a)
			return nil
		},
	}
	addTargetFlags(cmd.Flags(), true)
	f := cmd.Flags()
	f.StringArrayVar(&p.addSite, "add-site", nil, "name=,key=,region=,jurisdiction= (repeat)")
	f.StringArrayVar(&p.moveSite, "move-site", nil, "name=[,region=][,jurisdiction=]: a site's new region or jurisdiction; bodies outside the new one are dropped (repeat)")
	f.StringArrayVar(&p.drainSite, "drain-site", nil, "a site's name: it is leaving, its share moves to the others (repeat)")
	f.StringArrayVar(&p.undrainSite, "undrain-site", nil, "a draining site's name: it takes its share again (repeat)")
	f.StringArrayVar(&p.removeSite, "remove-site", nil, "a drained site's name (repeat)")
	f.BoolVar(&p.force, "force", false, "remove sites even if not drained or still running replicas; propose a format level above this release's")
	f.StringArrayVar(&p.addOperator, "add-operator", nil, "name=,key=,namespaces=[,quotaBytes=] (repeat)")
	f.StringArrayVar(&p.removeOperator, "remove-operator", nil, "an operator's name (repeat)")
	f.StringArrayVar(&p.addObserver, "add-observer", nil, "name=,key= (repeat)")
	f.StringArrayVar(&p.removeObserver, "remove-observer", nil, "an observer's name (repeat)")
	f.StringArrayVar(&p.addAdmin, "add-admin", nil, "name=,key= (repeat)")
	f.StringArrayVar(&p.removeAdmin, "remove-admin", nil, "an admin's name (repeat)")
	f.StringArrayVar(&p.rotate, "rotate", nil, "ROLE/NAME=KEY: a new key for an admin, site, operator or observer (repeat)")
	f.StringArrayVar(&p.grantClusterScope, "grant-cluster-scope", nil, "an operator's name: it may write cluster-scoped templates (CRDs, ClusterRoles, Namespaces...; format level 3) (repeat)")
	f.StringArrayVar(&p.revokeClusterScope, "revoke-cluster-scope", nil, "an operator's name: it may no longer write cluster-scoped templates (repeat)")
	f.IntVar(&p.threshold, "threshold", 0, "the admin signatures later charter changes need (0: unchanged)")
	f.IntVar(&p.format, "format", 0, "raise the charter's format level to N (0: unchanged; never lowered)")
	f.StringVarP(&desc, "message", "m", "", "what the amendment is for, for the other admins")
	f.StringVarP(&out, "output", "o", "amendment.yaml", "the amendment file to write")
	return cmd
}

func newCharterSignCmd() *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "sign --key admin.key FILE",
		Short: "Add your admin signature to an amendment file, after printing what it changes",
		Long: `Sign prints the charter change the file holds (before -> after, computed from its
operations) and adds the signature of --key, an admin of the charter the amendment
builds on. It needs no site: run it on the admin's own machine. It refuses a key that
is not an admin's and an admin who has signed already.`,
		Example: `  atoll charter sign --key bob.key ap-south.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := readAmendment(args[0])
			if err != nil {
				return err
			}
			k, err := site.LoadKeyFile(keyFile)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "amendment %s of charter %q", args[0], a.Federation)
			if a.Description != "" {
				fmt.Fprintf(w, ": %s", a.Description)
			}
			fmt.Fprintln(w)
			for _, l := range a.Diff {
				fmt.Fprintln(w, "  "+l)
			}
			if err := a.Sign(k); err != nil {
				return fmt.Errorf("sign %s: %w", args[0], err)
			}
			if err := writeAmendment(args[0], a); err != nil {
				return err
			}
			fmt.Fprintf(w, "signed by %s\n", a.Signatures[len(a.Signatures)-1].Name)
			printStatus(w, a)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "your admin key file")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func newCharterSubmitCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "submit FILE",
		Short: "Hand a fully signed amendment to a site, which checks it and spreads it",
		Long: `Submit hands the signed change to a site, which checks it and spreads it.

An amendment that removes a site goes to that site itself: it learns it was removed,
deletes Atoll's objects from its member clusters and hands the change on; the others
stop talking to it as soon as they hold the change, so through them it would never
learn it. Submit refuses another site unless --force (the removed site is gone).`,
		Example: `  atoll charter submit ap-south.yaml --context us-east
  atoll charter submit remove-ap-south.yaml --context ap-south`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := readAmendment(args[0])
			if err != nil {
				return err
			}
			env, err := a.Envelope()
			if err != nil {
				return fmt.Errorf("submit %s: %w", args[0], err)
			}
			c, _, err := connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if !force {
				// An amendment concurrent with another charter change may be void (a key it
				// is signed with revoked by the other): amend one at a time.
				st, err := c.Charter(cmd.Context())
				if err != nil {
					return err
				}
				// An operator's identity sees a filtered charter without history: nothing
				// to compare with then; the site's checks still apply.
				if diff := amend.Diff(a.Before, st.Charter); len(st.History) > 0 && len(diff) > 0 {
					return fmt.Errorf("submit %s: the charter at %s changed since the amendment was proposed (%s): propose it again on the charter in force, or --force", args[0], c.Addr(), strings.Join(diff, "; "))
				}
			}
			if removed := a.RemovedSites(); len(removed) > 0 && !force {
				st, err := c.State(cmd.Context())
				if err != nil {
					return fmt.Errorf("submit %s: %w", args[0], err)
				}
				if !containsString(removed, st.Name) {
					return fmt.Errorf("submit %s: it removes site %s, and %s is another site: submit it to the removed site (--context %s), "+
						"or it never learns it was removed and keeps its clusters' objects; --force if it is gone", args[0], strings.Join(removed, ", "), st.Name, removed[0])
				}
			}
			res, err := c.Submit(cmd.Context(), env.Encode())
			if err != nil {
				return fmt.Errorf("submit %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "charter change %s accepted by %s (lamport %d, signed by %s)\n", res.ID, c.Addr(), res.Lamport, strings.Join(a.SignedBy, ", "))
			return nil
		},
	}
	addTargetFlags(cmd.Flags(), false)
	cmd.Flags().BoolVar(&force, "force", false, "submit even if the charter changed since the amendment was proposed, or an amendment removing a site to another site")
	return cmd
}

func printStatus(w io.Writer, a *amend.Amendment) {
	for _, l := range a.Diff {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintf(w, "signed by %s; ", strings.Join(a.SignedBy, ", "))
	if a.Awaiting == "" {
		fmt.Fprintln(w, "ready to submit")
	} else {
		fmt.Fprintf(w, "awaiting %s\n", a.Awaiting)
	}
}

func readAmendment(path string) (*amend.Amendment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a, err := amend.Load(b)
	if err != nil {
		return nil, fmt.Errorf("amendment %s: %w", path, err)
	}
	return a, nil
}

func writeAmendment(path string, a *amend.Amendment) error {
	b, err := a.Marshal()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// edits converts the flags, naming the first bad one.
func (p proposeFlags) edits() (amend.Edits, error) {
	var e amend.Edits
	for _, s := range p.addSite {
		kv, err := pairs("--add-site", s, "name", "key", "region", "jurisdiction")
		if err != nil {
			return e, err
		}
		k, err := pubKey("--add-site "+s, kv["key"])
		if err != nil {
			return e, err
		}
		e.AddSites = append(e.AddSites, site.CharterSite{Name: kv["name"], Key: k, Region: kv["region"], Jurisdiction: kv["jurisdiction"]})
	}
	for _, s := range p.moveSite {
		kv, err := pairs("--move-site", s, "name", "region?", "jurisdiction?")
		if err != nil {
			return e, err
		}
		e.MoveSites = append(e.MoveSites, site.CharterSite{Name: kv["name"], Region: kv["region"], Jurisdiction: kv["jurisdiction"]})
	}
	for _, s := range p.addOperator {
		kv, err := pairs("--add-operator", s, "name", "key", "namespaces", "quotaBytes?")
		if err != nil {
			return e, err
		}
		k, err := pubKey("--add-operator "+s, kv["key"])
		if err != nil {
			return e, err
		}
		o := site.CharterOperator{Name: kv["name"], Key: k, Namespaces: strings.Split(kv["namespaces"], ",")}
		if q := kv["quotaBytes"]; q != "" {
			if o.QuotaBytes, err = strconv.ParseUint(q, 10, 64); err != nil {
				return e, fmt.Errorf("--add-operator %s: quotaBytes: %w", s, err)
			}
		}
		e.AddOperators = append(e.AddOperators, o)
	}
	for _, m := range []struct {
		flag string
		in   []string
		out  *[]site.CharterMember
	}{{"--add-observer", p.addObserver, &e.AddObservers}, {"--add-admin", p.addAdmin, &e.AddAdmins}} {
		for _, s := range m.in {
			kv, err := pairs(m.flag, s, "name", "key")
			if err != nil {
				return e, err
			}
			k, err := pubKey(m.flag+" "+s, kv["key"])
			if err != nil {
				return e, err
			}
			*m.out = append(*m.out, site.CharterMember{Name: kv["name"], Key: k})
		}
	}
	for _, s := range p.rotate {
		rn, key, ok := strings.Cut(s, "=")
		role, name, ok2 := strings.Cut(rn, "/")
		if !ok || !ok2 {
			return e, fmt.Errorf("--rotate %s: want ROLE/NAME=KEY (admin/bob=ed25519:<key>, say)", s)
		}
		k, err := pubKey("--rotate "+s, key)
		if err != nil {
			return e, err
		}
		e.RotateKeys = append(e.RotateKeys, amend.Rotation{Role: role, Name: name, Key: k})
	}
	e.RemoveSites, e.RemoveOperators, e.RemoveObservers, e.RemoveAdmins = p.removeSite, p.removeOperator, p.removeObserver, p.removeAdmin
	e.DrainSites, e.UndrainSites = p.drainSite, p.undrainSite
	e.GrantClusterScope, e.RevokeClusterScope = p.grantClusterScope, p.revokeClusterScope
	e.Threshold, e.Format = p.threshold, p.format
	if e.Empty() {
		return e, errors.New("propose: give at least one edit (--add-site, --drain-site, --remove-admin, --rotate, --threshold, --format, ...)")
	}
	return e, nil
}

// pairs parses "k=v,k=v"; a part without '=' continues the previous value (a list, as
// in namespaces=shop,bank). Every key in want is required but quotaBytes.
func pairs(flag, s string, want ...string) (map[string]string, error) {
	out := map[string]string{}
	last := ""
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		switch {
		case !ok && last != "":
			out[last] += "," + part
			continue
		case !ok:
			return nil, fmt.Errorf("%s %s: want key=value pairs separated by commas", flag, s)
		}
		if !containsString(want, k) && !containsString(want, k+"?") {
			return nil, fmt.Errorf("%s %s: unknown field %q (want %s)", flag, s, k, strings.ReplaceAll(strings.Join(want, ", "), "?", ""))
		}
		out[k], last = v, k
	}
	for _, k := range want {
		if out[k] == "" && !strings.HasSuffix(k, "?") {
			return nil, fmt.Errorf("%s %s: %s= is required", flag, s, k)
		}
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pubKey accepts a public key or a key file, and returns the key as FormatKey writes it.
func pubKey(what, s string) (string, error) {
	if strings.HasPrefix(s, "ed25519:") {
		k, err := site.ParseKey(s)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return site.FormatKey(k), nil
	}
	k, err := site.LoadKeyFile(s)
	if err != nil {
		return "", fmt.Errorf("%s: key: not ed25519:<base64>, and not a key file: %w", what, err)
	}
	return site.FormatKey(k.Public()), nil
}
