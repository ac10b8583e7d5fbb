package cli

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/internal/pki"
)

// ProvisionOptions are the flags of `cohort provision`.
type ProvisionOptions struct {
	IO       *IO
	Dir      string
	Out      string
	ValidFor time.Duration
	Hosts    []string
}

func newCmdProvision(ios *IO) *cobra.Command {
	o := &ProvisionOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create the consortium CA and issue coordinator and site certificates",
		Long: `Create the consortium certificate authority once (provision init), then issue
a bundle for the coordinator and one per site. Adding a site later issues only
that site's bundle: no other bundle changes. A bundle is ca.pem, NAME.pem and
NAME-key.pem (mode 0600); nothing is ever overwritten.`,
	}
	cmd.PersistentFlags().StringVar(&o.Dir, "ca-dir", "pki/ca", "directory holding ca.pem and ca-key.pem (keep it offline)")
	cmd.PersistentFlags().StringVar(&o.Out, "out", "pki", "directory to write bundles to")
	cmd.PersistentFlags().DurationVar(&o.ValidFor, "valid-for", 365*24*time.Hour, "certificate lifetime")
	initCmd := &cobra.Command{
		Use: "init", Short: "Create the consortium CA", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ca, err := pki.NewCA("cohort-consortium-ca", 5*o.ValidFor)
			if err != nil {
				return err
			}
			if err := ca.Save(o.Dir); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "created CA in %s (ca.pem, ca-key.pem)\n", o.Dir)
			return nil
		},
	}
	coord := &cobra.Command{
		Use: "coordinator", Short: "Issue the coordinator's server certificate", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return provisionIssue(o, "coordinator", pki.Server) },
	}
	coord.Flags().StringSliceVar(&o.Hosts, "host", []string{"127.0.0.1", "localhost"}, "DNS names or IP addresses sites dial")
	site := &cobra.Command{
		Use: "site NAME", Short: "Issue a site's client certificate (its common name is the site's identity)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error { return provisionIssue(o, a[0], pki.Client) },
	}
	cmd.AddCommand(initCmd, coord, site)
	return cmd
}

func provisionIssue(o *ProvisionOptions, name string, role pki.Role) error {
	ca, err := pki.LoadCA(o.Dir)
	if err != nil {
		return fmt.Errorf("loading the CA from --ca-dir %s (run `cohort provision init` first): %w", o.Dir, err)
	}
	var dns []string
	var ips []net.IP
	if role == pki.Server {
		for _, h := range o.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				ips = append(ips, ip)
			} else {
				dns = append(dns, h)
			}
		}
	}
	cert, key, err := ca.Issue(name, role, dns, ips, o.ValidFor)
	if err != nil {
		return err
	}
	if err := pki.WriteBundle(o.Out, name, ca.CertPEM(), cert, key); err != nil {
		return err
	}
	caF, certF, keyF := pki.BundleFiles(o.Out, name)
	fmt.Fprintf(o.IO.Out, "issued %s certificate for %q: %s, %s (CA %s)\n", role, name, certF, keyF, caF)
	return nil
}
