package cli

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/internal/pki"
)

// Defaults of the provision verbs.
const (
	defaultCADir       = "pki/ca"
	defaultCAName      = "cohort-consortium-ca"
	defaultCertLife    = 365 * 24 * time.Hour
	defaultCALife      = 5 * defaultCertLife
	defaultCRLValidFor = pki.DefaultCRLValidity
)

func newCmdProvision(ios *IO) *cobra.Command {
	var caDir string
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Run the consortium CA: issue, renew, revoke and check certificates",
		Long: `Run the consortium's certificate authority, kept offline in --ca-dir.

Create it once (provision init), then issue a bundle for the coordinator, one
per site, and one per operator (provision user --role admin|auditor). A bundle
is ca.pem, NAME.pem and NAME-key.pem (mode 0600), written by default to the
directory NAME next to the CA directory (pki/NAME). Adding a party writes only
its own files: no other bundle changes.

Every certificate carries its holder's role as its Subject OU (coordinator,
site, admin or auditor), and the coordinator decides what each role may call.
Certificates expire (--valid-for); renew one with provision renew NAME (a new
key; the old certificate stays valid until it expires unless revoked), and
revoke one with provision revoke NAME, which re-signs the revocation list
crl.pem that the coordinator reads (--crl).

provision check DIR NAME checks a bundle before use and says what is wrong.
See docs/consortium.md.`,
	}
	cmd.PersistentFlags().StringVar(&caDir, "ca-dir", defaultCADir, "CA directory: ca.pem, ca-key.pem, crl.pem and issued/ (keep it offline)")
	cmd.AddCommand(
		newCmdProvisionInit(ios, &caDir),
		newCmdProvisionSite(ios, &caDir),
		newCmdProvisionUser(ios, &caDir),
		newCmdProvisionCoordinator(ios, &caDir),
		newCmdProvisionRenew(ios, &caDir),
		newCmdProvisionRevoke(ios, &caDir),
		newCmdProvisionCRL(ios, &caDir),
		newCmdProvisionList(ios, &caDir),
		newCmdProvisionCheck(ios, &caDir),
	)
	return cmd
}

// ProvisionInitOptions are the flags of `cohort provision init`.
type ProvisionInitOptions struct {
	IO          *IO
	CADir       string
	Name        string
	ValidFor    time.Duration
	CRLValidFor time.Duration
}

func newCmdProvisionInit(ios *IO, caDir *string) *cobra.Command {
	o := &ProvisionInitOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the consortium CA and its empty revocation list",
		Long: `Create the consortium CA in --ca-dir: ca.pem, ca-key.pem (0600), an empty
revocation list crl.pem (CRL number 1) and issued/, where a copy of every
certificate issued is kept. An existing CA is never replaced.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { o.CADir = *caDir; return provisionInitRun(o) },
	}
	cmd.Flags().StringVar(&o.Name, "name", defaultCAName, "the CA's common name")
	cmd.Flags().DurationVar(&o.ValidFor, "valid-for", defaultCALife, "CA lifetime")
	cmd.Flags().DurationVar(&o.CRLValidFor, "crl-valid-for", defaultCRLValidFor, "validity of the revocation list (its NextUpdate)")
	// Earlier versions took --out on every provision verb; init writes no
	// bundle, so it is accepted and ignored.
	cmd.Flags().String("out", "", "ignored: init writes no bundle")
	_ = cmd.Flags().MarkHidden("out")
	return cmd
}

func provisionInitRun(o *ProvisionInitOptions) error {
	a, err := pki.CreateAuthority(o.CADir, o.Name, o.ValidFor, o.CRLValidFor)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "created CA %q in %s (ca.pem, ca-key.pem, crl.pem), valid until %s\n",
		o.Name, o.CADir, stampOf(a.CA().Certificate().NotAfter))
	return nil
}

// openAuthority opens --ca-dir with a hint if it is missing.
func openAuthority(dir string) (*pki.Authority, error) {
	a, err := pki.OpenAuthority(dir)
	if err != nil {
		return nil, fmt.Errorf("loading the CA from --ca-dir %s (run `cohort provision init` first): %w", dir, err)
	}
	return a, nil
}

// defaultBundleDir is where NAME's bundle goes without --out: the directory
// NAME next to the CA directory (pki/NAME for the default pki/ca).
func defaultBundleDir(caDir, name string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(caDir)), name)
}

// liveCerts returns the certificates of issued whose common name is name and
// that are neither revoked on crl nor expired at now (not-yet-valid ones
// count as live), in issued's order.
func liveCerts(issued []*x509.Certificate, name string, crl *pki.RevocationList, now time.Time) []*x509.Certificate {
	var live []*x509.Certificate
	for _, c := range issued {
		if c.Subject.CommonName != name {
			continue
		}
		if st := pki.CertStatusAt(c, crl, now); st == pki.StatusValid || st == pki.StatusNotYetValid {
			live = append(live, c)
		}
	}
	return live
}

func stampOf(t time.Time) string { return t.UTC().Format(time.RFC3339) }
