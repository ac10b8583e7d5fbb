package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
)

// ProvisionCheckOptions are the flags of `cohort provision check`.
type ProvisionCheckOptions struct {
	IO         *IO
	CADir      string
	CADirGiven bool
	Dir        string
	Name       string
	Role       string
	CRL        string
	Output     string
}

func newCmdProvisionCheck(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionCheckOptions{IO: ios}
	cmd := &cobra.Command{
		Use:     "check BUNDLE_DIR NAME",
		Aliases: []string{"verify"},
		Short:   "Check a bundle before use and say what is wrong with it",
		Long: `Check the bundle BUNDLE_DIR/ca.pem, NAME.pem and NAME-key.pem the way the
coordinator and the sites check theirs at start-up, and report every check:
the CA file; the certificate and key files; that the key belongs to the
certificate; its dates (expired, not yet valid); that it is signed by the CA in
ca.pem (a different CA fails here); its extended key usage; its role (with
--role, that it is that role); and that it is not revoked.

If the CA directory (--ca-dir) is present, the bundle's ca.pem must also be that
CA, and its crl.pem is used for the revocation check unless --crl is given.
The command exits with status 1 if any check fails.`,
		Example: `  cohort provision check pki/hospital-a hospital-a --role site
  cohort provision check pki/alice alice --crl /etc/cohort/crl.pem --output json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.CADir, o.Dir, o.Name = *caDir, a[0], a[1]
			o.CADirGiven = cmd.Flags().Changed("ca-dir")
			return provisionCheckRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Role, "role", "", "the role the bundle must have: coordinator, site, admin or auditor")
	cmd.Flags().StringVar(&o.CRL, "crl", "", "revocation list to check against (default: crl.pem in --ca-dir, if present)")
	cmd.Flags().StringVar(&o.Output, "output", "text", "text or json")
	return cmd
}

type bundleCheckJSON struct {
	Bundle   string          `json:"bundle"`
	Name     string          `json:"name"`
	Role     string          `json:"role,omitempty"`
	Serial   string          `json:"serial,omitempty"`
	NotAfter string          `json:"not_after,omitempty"`
	OK       bool            `json:"ok"`
	Problems int             `json:"problems"`
	Checks   []tlsconf.Check `json:"checks"`
}

func provisionCheckRun(o *ProvisionCheckOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	use := tlsconf.Use{Purpose: "this bundle", Usage: x509.ExtKeyUsageAny}
	if o.Role != "" {
		r, err := pki.ParseConsortiumRole(o.Role)
		if err != nil {
			return fmt.Errorf("--role: %w", err)
		}
		article := "a "
		if strings.ContainsRune("aeiou", rune(r[0])) {
			article = "an "
		}
		use = tlsconf.Use{Purpose: article + string(r) + " bundle", Usage: x509.ExtKeyUsageClientAuth, Roles: []pki.ConsortiumRole{r}}
		if r == pki.RoleCoordinator {
			use.Usage = x509.ExtKeyUsageServerAuth
		}
	}
	caFile, certFile, keyFile := pki.BundleFiles(o.Dir, o.Name)

	// The consortium CA, if the CA directory is at hand.
	var extra []tlsconf.Check
	caDirCert := filepath.Join(o.CADir, pki.CACertFile)
	if _, err := os.Stat(caDirCert); err == nil {
		a, err := pki.OpenAuthority(o.CADir)
		if err != nil {
			return err
		}
		bundleCA, rerr := os.ReadFile(caFile)
		switch {
		case rerr != nil:
			extra = append(extra, tlsconf.Check{Name: "consortium", Status: tlsconf.StatusSkipped, Detail: "no ca.pem in the bundle"})
		case !holdsCert(bundleCA, a.CA().Certificate()):
			err := fmt.Errorf("wrong CA: the bundle's %s is not the consortium CA in %s (%q, key %s)", caFile, caDirCert,
				a.CA().Certificate().Subject.CommonName, pki.KeyID(a.CA().Certificate().SubjectKeyId))
			extra = append(extra, tlsconf.Check{Name: "consortium", Status: tlsconf.StatusFail, Detail: err.Error(), Err: err})
		default:
			extra = append(extra, tlsconf.Check{Name: "consortium", Status: tlsconf.StatusOK, Detail: "ca.pem is the CA in " + caDirCert})
		}
		wrongCA := extra[len(extra)-1].Status == tlsconf.StatusFail
		if o.CRL == "" && !wrongCA {
			if _, err := os.Stat(a.CRLPath()); err == nil {
				o.CRL = a.CRLPath()
			}
		}
	} else if o.CADirGiven || !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--ca-dir %s: %w", o.CADir, err)
	} else {
		extra = append(extra, tlsconf.Check{Name: "consortium", Status: tlsconf.StatusSkipped, Detail: "no CA directory (--ca-dir) to compare ca.pem with"})
	}

	var opts []tlsconf.Option
	var crlErr error
	if o.CRL != "" {
		checker, err := tlsconf.NewCRLChecker(o.CRL, caFile)
		if err != nil {
			crlErr = err
		} else {
			opts = append(opts, tlsconf.WithRevocationChecker(checker))
		}
	}
	rep := tlsconf.CheckBundle(certFile, keyFile, caFile, use, opts...)
	// The consortium check goes right after the issuer check.
	var checks []tlsconf.Check
	for _, c := range rep.Checks {
		if c.Name == tlsconf.CheckRevocation && crlErr != nil && c.Status == tlsconf.StatusSkipped && rep.Cert != nil {
			c = tlsconf.Check{Name: c.Name, Status: tlsconf.StatusFail, Detail: crlErr.Error(), Err: crlErr}
		}
		checks = append(checks, c)
		if c.Name == tlsconf.CheckIssuer {
			checks = append(checks, extra...)
		}
	}

	res := bundleCheckJSON{Bundle: o.Dir, Name: o.Name, Role: string(rep.Role), Checks: checks}
	if rep.Cert != nil {
		res.Serial = fmt.Sprintf("%x", rep.Cert.SerialNumber)
		res.NotAfter = stampOf(rep.Cert.NotAfter)
	}
	var first error
	for _, c := range checks {
		if c.Status == tlsconf.StatusFail {
			res.Problems++
			if first == nil {
				first = c.Err
			}
		}
	}
	res.OK = res.Problems == 0
	if o.Output == "json" {
		if err := writeJSON(o.IO.Out, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.IO.Out, "bundle %s, %s\n", o.Dir, o.Name)
		tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
		for _, c := range checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Status, c.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if res.OK {
		if o.Output != "json" {
			fmt.Fprintf(o.IO.Out, "%s: ok\n", o.Name)
		}
		return nil
	}
	return &exitError{code: 1, err: fmt.Errorf("bundle %s (%s): %d problem(s); first: %w", o.Dir, o.Name, res.Problems, first)}
}

// holdsCert reports whether the PEM data holds cert.
func holdsCert(data []byte, cert *x509.Certificate) bool {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" && bytes.Equal(block.Bytes, cert.Raw) {
			return true
		}
	}
}

// ProvisionListOptions are the flags of `cohort provision list`.
type ProvisionListOptions struct {
	IO     *IO
	CADir  string
	Output string
}

func newCmdProvisionList(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionListOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the certificates the CA issued, with their role and state",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { o.CADir = *caDir; return provisionListRun(o) },
	}
	cmd.Flags().StringVar(&o.Output, "output", "text", "text or json")
	return cmd
}

type issuedJSON struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Serial    string `json:"serial"`
	NotBefore string `json:"not_before"`
	NotAfter  string `json:"not_after"`
	Status    string `json:"status"`
	RevokedAt string `json:"revoked_at,omitempty"`
}

func provisionListRun(o *ProvisionListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	a, err := openAuthority(o.CADir)
	if err != nil {
		return err
	}
	issued, err := a.Issued()
	if err != nil {
		return err
	}
	crl, err := a.RevocationList()
	if err != nil {
		return err
	}
	slices.SortStableFunc(issued, func(x, y *x509.Certificate) int { return strings.Compare(x.Subject.CommonName, y.Subject.CommonName) })
	now := time.Now()
	out := make([]issuedJSON, 0, len(issued))
	for _, c := range issued {
		role, err := pki.RoleOf(c)
		r := string(role)
		if err != nil {
			r = "?"
		}
		e := issuedJSON{Name: c.Subject.CommonName, Role: r, Serial: fmt.Sprintf("%x", c.SerialNumber),
			NotBefore: stampOf(c.NotBefore), NotAfter: stampOf(c.NotAfter), Status: string(pki.CertStatusAt(c, crl, now))}
		if rev, ok := crl.Lookup(c.SerialNumber); ok {
			e.RevokedAt = stampOf(rev.RevokedAt)
		}
		out = append(out, e)
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSERIAL\tNOT AFTER\tSTATUS")
	for _, e := range out {
		st := e.Status
		if e.RevokedAt != "" {
			st += " " + e.RevokedAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Role, e.Serial, e.NotAfter, st)
	}
	return tw.Flush()
}
