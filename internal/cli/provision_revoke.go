package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"time"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/internal/pki"
)

// ProvisionRevokeOptions are the flags of `cohort provision revoke`.
type ProvisionRevokeOptions struct {
	IO          *IO
	CADir       string
	Name        string
	Serial      string
	Reason      string
	CRLValidFor time.Duration
}

func newCmdProvisionRevoke(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionRevokeOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "revoke NAME | --serial S",
		Short: "Revoke a party's certificates and re-sign the revocation list",
		Long: `Add certificates to the revocation list crl.pem in the CA directory and re-sign
it with the next CRL number. With NAME, every certificate of NAME that is
neither expired nor already revoked is revoked (after a renewal, the old and the
new one); with --serial, just that one (hexadecimal, as printed by provision
list).

A coordinator started with --crl pointing at a copy of crl.pem re-reads it when
it changes: revoked certificates are refused on their next connection, and
their open streams are closed within seconds, without a restart. Replace the
coordinator's copy atomically (copy to a temporary name, then mv).`,
		Example: `  cohort provision revoke hospital-c
  cohort provision revoke --serial 5f3a… --reason keyCompromise`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			o.CADir = *caDir
			if len(a) == 1 {
				o.Name = a[0]
			}
			return provisionRevokeRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Serial, "serial", "", "revoke only the certificate with this serial number (hex)")
	cmd.Flags().StringVar(&o.Reason, "reason", "unspecified", "unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation")
	cmd.Flags().DurationVar(&o.CRLValidFor, "crl-valid-for", defaultCRLValidFor, "validity of the new revocation list (its NextUpdate)")
	return cmd
}

func provisionRevokeRun(o *ProvisionRevokeOptions) error {
	if (o.Name == "") == (o.Serial == "") {
		return errors.New("give either NAME or --serial S")
	}
	reason, err := pki.ParseReason(o.Reason)
	if err != nil {
		return fmt.Errorf("--reason: %w", err)
	}
	a, err := openAuthority(o.CADir)
	if err != nil {
		return err
	}
	cur, err := a.RevocationList()
	if err != nil {
		return err
	}
	now := time.Now()
	var targets []*x509.Certificate
	var unknown *big.Int // a serial not recorded in issued/
	if o.Serial != "" {
		serial, err := pki.ParseSerial(o.Serial)
		if err != nil {
			return fmt.Errorf("--serial: %w", err)
		}
		if r, done := cur.Lookup(serial); done {
			return fmt.Errorf("serial %x is already revoked (since %s)", serial, stampOf(r.RevokedAt))
		}
		c, err := a.Lookup(serial)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			unknown = serial
		case err != nil:
			return err
		default:
			targets = append(targets, c)
		}
	} else {
		issued, err := a.Issued()
		if err != nil {
			return err
		}
		targets = liveCerts(issued, o.Name, cur, now)
		if len(targets) == 0 {
			return fmt.Errorf("%q has no certificate to revoke: none recorded in %s/%s is both unexpired and unrevoked (see cohort provision list; for a certificate issued before this version, use --serial)",
				o.Name, o.CADir, pki.IssuedDir)
		}
	}
	var add []pki.Revocation
	for _, c := range targets {
		add = append(add, pki.Revocation{Serial: c.SerialNumber, RevokedAt: now, Reason: reason})
	}
	if unknown != nil {
		add = append(add, pki.Revocation{Serial: unknown, RevokedAt: now, Reason: reason})
	}
	l, err := a.Revoke(add, o.CRLValidFor)
	if err != nil {
		return err
	}
	for _, c := range targets {
		role, _ := pki.RoleOf(c)
		fmt.Fprintf(o.IO.Out, "revoked %s certificate %q (serial %x, valid until %s)\n", role, c.Subject.CommonName, c.SerialNumber, stampOf(c.NotAfter))
	}
	if unknown != nil {
		fmt.Fprintf(o.IO.Out, "revoked serial %x (not recorded in %s/%s)\n", unknown, o.CADir, pki.IssuedDir)
	}
	printCRL(o.IO, a, l)
	return nil
}

// ProvisionCRLOptions are the flags of `cohort provision crl`.
type ProvisionCRLOptions struct {
	IO          *IO
	CADir       string
	CRLValidFor time.Duration
}

func newCmdProvisionCRL(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionCRLOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "crl",
		Short: "Re-sign the revocation list with a new validity window",
		Long: `Re-sign crl.pem with the next CRL number and a new NextUpdate, without changing
its entries. A coordinator refuses every connection once its revocation list is
past NextUpdate, so do this (and copy the list to the coordinator) before then.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { o.CADir = *caDir; return provisionCRLRun(o) },
	}
	cmd.Flags().DurationVar(&o.CRLValidFor, "crl-valid-for", defaultCRLValidFor, "validity of the new revocation list (its NextUpdate)")
	return cmd
}

func provisionCRLRun(o *ProvisionCRLOptions) error {
	a, err := openAuthority(o.CADir)
	if err != nil {
		return err
	}
	l, err := a.RefreshCRL(o.CRLValidFor)
	if err != nil {
		return err
	}
	printCRL(o.IO, a, l)
	return nil
}

func printCRL(io *IO, a *pki.Authority, l *pki.RevocationList) {
	fmt.Fprintf(io.Out, "revocation list %s: number %d, %d revoked, next update %s; copy it to the coordinator's --crl file (re-read without a restart)\n",
		a.CRLPath(), l.Number(), len(l.Entries()), stampOf(l.NextUpdate()))
}
