package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/internal/pki"
)

// ProvisionIssueOptions are the flags of `cohort provision site`, `user`,
// `coordinator` and `renew`.
type ProvisionIssueOptions struct {
	IO       *IO
	CADir    string
	Name     string
	Role     pki.ConsortiumRole
	Out      string // "" means defaultBundleDir
	ValidFor time.Duration
	Renew    bool
	Hosts    []string // coordinator only
}

func issueFlags(cmd *cobra.Command, o *ProvisionIssueOptions) {
	cmd.Flags().StringVar(&o.Out, "out", "", "bundle directory (default: NAME next to --ca-dir, e.g. pki/NAME)")
	cmd.Flags().DurationVar(&o.ValidFor, "valid-for", defaultCertLife, "certificate lifetime")
}

func renewFlag(cmd *cobra.Command, o *ProvisionIssueOptions) {
	cmd.Flags().BoolVar(&o.Renew, "renew", false, "issue a new key and certificate for a party that has one, replacing its bundle files (the old certificate stays valid until it expires unless revoked)")
}

func newCmdProvisionSite(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionIssueOptions{IO: ios, Role: pki.RoleSite}
	cmd := &cobra.Command{
		Use:   "site NAME",
		Short: "Issue a site's bundle (its common name is the site's identity)",
		Long: `Issue a site certificate (OU=site) for NAME and write its bundle. It can be run
at any time, also while the coordinator runs: it writes only NAME's files and
no other bundle changes. It refuses if NAME already has a bundle or a live
certificate, unless --renew.`,
		Example: `  cohort provision site hospital-d              # pki/hospital-d/
  cohort provision site hospital-d --renew      # new key and certificate`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			o.CADir, o.Name = *caDir, a[0]
			return provisionIssueRun(o)
		},
	}
	issueFlags(cmd, o)
	renewFlag(cmd, o)
	return cmd
}

func newCmdProvisionUser(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionIssueOptions{IO: ios}
	var role string
	cmd := &cobra.Command{
		Use:   "user NAME --role admin|auditor",
		Short: "Issue an operator's bundle: admin (start and stop runs) or auditor (read only)",
		Long: `Issue an operator certificate for NAME with role admin (may start and stop runs,
and read them) or auditor (may only read runs and sites), for the admin CLI
(cohort runs, cohort sites). Operators cannot use the site API, and sites
cannot use the admin API.`,
		Example: `  cohort provision user alice --role admin
  cohort provision user carol --role auditor --valid-for 720h`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			r, err := pki.ParseConsortiumRole(role)
			if err != nil || (r != pki.RoleAdmin && r != pki.RoleAuditor) {
				return fmt.Errorf("--role %q: want admin or auditor", role)
			}
			o.CADir, o.Name, o.Role = *caDir, a[0], r
			return provisionIssueRun(o)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "admin or auditor (required)")
	_ = cmd.MarkFlagRequired("role")
	issueFlags(cmd, o)
	renewFlag(cmd, o)
	return cmd
}

func newCmdProvisionCoordinator(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionIssueOptions{IO: ios, Role: pki.RoleCoordinator}
	cmd := &cobra.Command{
		Use:     "coordinator [NAME]",
		Aliases: []string{"server"},
		Short:   "Issue the coordinator's server bundle",
		Long: `Issue the coordinator's server certificate (OU=coordinator, serverAuth) for the
names and addresses sites dial (--host), and write its bundle. NAME defaults to
"coordinator".`,
		Example: `  cohort provision coordinator --host coord.example.org --host 10.0.0.5`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			o.CADir, o.Name = *caDir, "coordinator"
			if len(a) == 1 {
				o.Name = a[0]
			}
			return provisionIssueRun(o)
		},
	}
	cmd.Flags().StringSliceVar(&o.Hosts, "host", []string{"127.0.0.1", "localhost"}, "DNS names or IP addresses sites dial (repeat or comma-separate)")
	issueFlags(cmd, o)
	renewFlag(cmd, o)
	return cmd
}

func newCmdProvisionRenew(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionIssueOptions{IO: ios, Renew: true}
	cmd := &cobra.Command{
		Use:   "renew NAME",
		Short: "Issue a new key and certificate for NAME, with the same role and names",
		Long: `Issue a new key and certificate for NAME with the role (and, for the
coordinator, the host names) of its latest certificate recorded in the CA's
issued/ directory, and replace NAME's bundle files. Other bundles are not
touched. The previous certificate stays valid until it expires unless you
revoke it (provision revoke --serial S).`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			o.CADir, o.Name = *caDir, a[0]
			return provisionRenewRun(o)
		},
	}
	issueFlags(cmd, o)
	return cmd
}

func provisionRenewRun(o *ProvisionIssueOptions) error {
	a, err := openAuthority(o.CADir)
	if err != nil {
		return err
	}
	issued, err := a.Issued()
	if err != nil {
		return err
	}
	var latest *x509.Certificate
	for _, c := range issued {
		if c.Subject.CommonName == o.Name {
			latest = c
		}
	}
	if latest == nil {
		return fmt.Errorf("no certificate named %q in %s/%s (certificates issued before this version are not recorded): issue one with `cohort provision site|user|coordinator %s --renew`",
			o.Name, o.CADir, pki.IssuedDir, o.Name)
	}
	if o.Role, err = pki.RoleOf(latest); err != nil {
		return fmt.Errorf("renew %q: %w", o.Name, err)
	}
	o.Hosts = nil
	for _, ip := range latest.IPAddresses {
		o.Hosts = append(o.Hosts, ip.String())
	}
	o.Hosts = append(o.Hosts, latest.DNSNames...)
	return issueWith(o, a, issued)
}

func provisionIssueRun(o *ProvisionIssueOptions) error {
	a, err := openAuthority(o.CADir)
	if err != nil {
		return err
	}
	issued, err := a.Issued()
	if err != nil {
		return err
	}
	return issueWith(o, a, issued)
}

// issueWith checks that issuing o.Name is allowed, issues its certificate,
// records it and writes its bundle. issued is a.Issued().
func issueWith(o *ProvisionIssueOptions, a *pki.Authority, issued []*x509.Certificate) error {
	crl, err := a.RevocationList()
	if err != nil {
		return err
	}
	live := liveCerts(issued, o.Name, crl, time.Now())
	for _, c := range live {
		if r, err := pki.RoleOf(c); err == nil && r != o.Role {
			return fmt.Errorf("%q already holds a live %s certificate (serial %x, valid until %s); a name belongs to one role: pick another name, or revoke that certificate first (cohort provision revoke --serial %x)",
				o.Name, r, c.SerialNumber, stampOf(c.NotAfter), c.SerialNumber)
		}
	}
	if len(live) > 0 && !o.Renew {
		c := live[len(live)-1]
		return fmt.Errorf("a %s certificate for %q already exists (serial %x, valid until %s); pass --renew for a new key and certificate (the old one stays valid until it expires unless you revoke it)",
			o.Role, o.Name, c.SerialNumber, stampOf(c.NotAfter))
	}
	out := o.Out
	if out == "" {
		out = defaultBundleDir(o.CADir, o.Name)
	}
	caFile, certFile, keyFile := pki.BundleFiles(out, o.Name)
	if !o.Renew {
		for _, p := range []string{certFile, keyFile} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%w: %s: %q already has a bundle; pass --renew to replace it with a new key and certificate", pki.ErrExists, p, o.Name)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	var dns []string
	var ips []net.IP
	if o.Role == pki.RoleCoordinator {
		for _, h := range o.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				ips = append(ips, ip)
			} else {
				dns = append(dns, h)
			}
		}
	}
	req, err := pki.NewRequest(o.Name, o.Role, dns, ips, o.ValidFor)
	if err != nil {
		return err
	}
	certPEM, keyPEM, cert, err := a.Issue(req)
	if err != nil {
		return err
	}
	write := pki.WriteBundle
	if o.Renew {
		write = pki.RenewBundle
	}
	if err := write(out, o.Name, a.CA().CertPEM(), certPEM, keyPEM); err != nil {
		if derr := a.Discard(cert); derr != nil {
			return fmt.Errorf("%w (and the record of the unused certificate, serial %x, could not be removed: %w)", err, cert.SerialNumber, derr)
		}
		return err
	}
	verb := "issued"
	if o.Renew && len(live) > 0 {
		verb = "renewed"
	}
	fmt.Fprintf(o.IO.Out, "%s %s certificate for %q (serial %x, valid until %s): %s, %s (CA %s)\n",
		verb, o.Role, o.Name, cert.SerialNumber, stampOf(cert.NotAfter), certFile, keyFile, caFile)
	if len(live) > 0 {
		var old []string
		for _, c := range live {
			old = append(old, fmt.Sprintf("serial %x until %s", c.SerialNumber, stampOf(c.NotAfter)))
		}
		fmt.Fprintf(o.IO.Out, "the previous certificate stays valid until it expires unless revoked (%s)\n", strings.Join(old, "; "))
	}
	return nil
}
