package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/gate"
	"github.com/cohortfl/cohort/internal/reportdata"
	"github.com/cohortfl/cohort/internal/tlsconf"
	"github.com/cohortfl/cohort/registry"
	"github.com/cohortfl/cohort/report"
)

// CoordinatorServeOptions are the flags of `cohort coordinator serve`.
type CoordinatorServeOptions struct {
	IO            *IO
	Listen        string
	DB            string
	Cert, Key, CA string
	CRL           string
	Insecure      bool
	MetricsAddr   string
	RunConfig     string
	ExitWhenDone  bool
	MaxStaged     int
	SpoolDir      string
	SigningKey    string
	Hybrid        bool
	Policy        string
	cmd           *cobra.Command
}

func newCmdCoordinator(ios *IO) *cobra.Command {
	cmd := &cobra.Command{Use: "coordinator", Short: "Run the coordinator that drives federated rounds"}
	o := &CoordinatorServeOptions{IO: ios}
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve sites and the admin API over gRPC with mutual TLS",
		Long: `Serve the site API (sites dial out to it; it never dials a site) and the admin
API, with mutual TLS. State lives in a SQLite file: a coordinator restarted on the
same --db (even after kill -9) resumes the run it was driving after its last
committed round.

--run FILE starts the run described by a JSON run configuration (see
docs/consortium.md) once the coordinator is up; without it, runs are started
through the admin API by an admin (cohort runs start).

Callers are authorised by the role in their certificate: sites may use the
site API only, admins may start and stop runs, auditors may only read them.
--crl FILE is the consortium's revocation list (cohort provision revoke); it
is re-read when it changes, and revoked certificates are refused on every
connection and cut off while connected, without a restart.`,
		Example: `  cohort coordinator serve --listen 127.0.0.1:7443 --db coord.db \
    --cert pki/coordinator/coordinator.pem --key pki/coordinator/coordinator-key.pem \
    --ca pki/coordinator/ca.pem --crl pki/ca/crl.pem --run run.json --metrics 127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { o.cmd = cmd; return coordinatorServeRun(o) },
	}
	f := serve.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:7443", "gRPC listen address")
	f.StringVar(&o.DB, "db", "cohort.db", "SQLite state file")
	f.StringVar(&o.Cert, "cert", "", "coordinator certificate (PEM)")
	f.StringVar(&o.Key, "key", "", "coordinator private key (PEM)")
	f.StringVar(&o.CA, "ca", "", "consortium CA certificate that site certificates must chain to (PEM)")
	f.StringVar(&o.CRL, "crl", "", "revocation list signed by the consortium CA (crl.pem), re-read when it changes")
	f.BoolVar(&o.Insecure, "insecure", false, "no TLS; only for demos on a loopback address")
	f.StringVar(&o.MetricsAddr, "metrics", "", "address of the Prometheus /metrics endpoint (empty: off)")
	f.StringVar(&o.RunConfig, "run", "", "JSON run configuration to start at once")
	f.BoolVar(&o.ExitWhenDone, "exit-when-done", false, "exit when the run ends (with --run)")
	f.IntVar(&o.MaxStaged, "max-staged-uploads", 1, "uploads read concurrently; one up to 1 MiB holds a buffer of its size, a larger fit upload one chunk (it is spooled to disk)")
	f.StringVar(&o.SpoolDir, "spool-dir", "", "directory where fit uploads above 1 MiB wait to be folded, and where rounds of models above 1 MiB keep their running sum (default: the system's temporary directory; files are unlinked as they are created)")
	f.StringVar(&o.SigningKey, "signing-key", "", "the coordinator's model-signing key (default: coordinator-signing.key next to --db; created on first use, public half in .pub)")
	f.BoolVar(&o.Hybrid, "hybrid-signing", false, "when creating the signing key, make it a hybrid Ed25519 + ML-DSA-65 key")
	f.StringVar(&o.Policy, "policy", "", "publish-gate policy file (YAML) for the --run configuration (see docs/fairness.md)")
	cmd.AddCommand(serve)
	return cmd
}

func coordinatorServeRun(o *CoordinatorServeOptions) error {
	log, err := logger(o.cmd, o.IO.Err, "info")
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	var crl *tlsconf.CRLChecker
	if o.Insecure {
		if err := tlsconf.CheckLoopback(o.Listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		if o.CRL != "" {
			return fmt.Errorf("--crl needs mTLS; it cannot be used with --insecure")
		}
		log.Warn("TLS is OFF (--insecure): sites are named by an unauthenticated header; loopback demo only")
	} else {
		if o.Cert == "" || o.Key == "" || o.CA == "" {
			return fmt.Errorf("mTLS needs --cert, --key and --ca (or --insecure on a loopback address for a demo)")
		}
		var opts []tlsconf.Option
		if o.CRL != "" {
			if crl, err = tlsconf.NewCRLChecker(o.CRL, o.CA); err != nil {
				return fmt.Errorf("--crl: %w", err)
			}
			opts = append(opts, tlsconf.WithRevocationChecker(crl))
		}
		if tlsCfg, err = tlsconf.ServerConfig(o.Cert, o.Key, o.CA, opts...); err != nil {
			return err
		}
	}
	var rc *coordinator.RunConfig
	if o.RunConfig != "" {
		c, _, err := readRunConfig(o.RunConfig)
		if err != nil {
			return fmt.Errorf("--run %w", err)
		}
		rc = &c
	}
	if o.Policy != "" {
		if rc == nil {
			return fmt.Errorf("--policy applies to the --run configuration; give --run too (runs started through the admin API carry their policy in their JSON)")
		}
		p, err := gate.Load(o.Policy)
		if err != nil {
			return err
		}
		rc.Policy = &p
	}
	var signer *registry.Signer
	if !o.Insecure {
		if signer, err = loadOrCreateSigner(o, log); err != nil {
			return err
		}
	}
	db, err := store.Open(o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.Listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return coordinator.Serve(ctx, coordinator.ServeOptions{Listener: ln, TLS: tlsCfg, Insecure: o.Insecure, DB: db,
		MetricsAddr: o.MetricsAddr, Run: rc, ExitWhenIdle: o.ExitWhenDone && rc != nil, Logger: log, MaxStaged: o.MaxStaged, SpoolDir: o.SpoolDir,
		Revocation: crl, Signer: signer, Reporter: reporter(db, signer, tlsCfg)})
}

// readRunConfig reads and validates a JSON run configuration, refusing
// unknown fields, and returns it with the file's bytes. Errors start with
// the path.
func readRunConfig(path string) (coordinator.RunConfig, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return coordinator.RunConfig{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	c := coordinator.DefaultRunConfig()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt field must not be silently ignored
	if err := dec.Decode(&c); err != nil {
		return coordinator.RunConfig{}, nil, fmt.Errorf("%s: not a valid run configuration: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return coordinator.RunConfig{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, b, nil
}

// loadOrCreateSigner loads the coordinator's model-signing key, creating it
// (mode 0600, public half beside it) on first use.
func loadOrCreateSigner(o *CoordinatorServeOptions, log *slog.Logger) (*registry.Signer, error) {
	path := o.SigningKey
	if path == "" {
		path = filepath.Join(filepath.Dir(o.DB), "coordinator-signing.key")
	}
	if _, err := os.Stat(path); err == nil {
		s, err := registry.LoadSigner(path)
		if err != nil {
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
		log.Info("model signing key loaded", "path", path, "public_key", s.Public().Fingerprint(), "suite", s.Public().Suite())
		return s, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--signing-key: %w", err)
	}
	s, err := registry.GenerateSigner(nil, o.Hybrid)
	if err != nil {
		return nil, err
	}
	if err := s.Save(path); err != nil {
		return nil, fmt.Errorf("--signing-key: %w", err)
	}
	pub := strings.TrimSuffix(path, ".key") + ".pub"
	if err := s.Public().Save(pub); err != nil {
		return nil, fmt.Errorf("--signing-key: writing the public key: %w", err)
	}
	log.Info("model signing key created: give the public key to auditors (cohort models verify --coordinator-key)",
		"path", path, "public_key_file", pub, "public_key", s.Public().Fingerprint(), "suite", s.Public().Suite())
	return s, nil
}

// reporter renders reports for AdminService/GetReport from the
// coordinator's own store, verifying signed models with its own public key
// and the consortium CA.
func reporter(db *store.DB, signer *registry.Signer, tlsCfg *tls.Config) coordinator.Reporter {
	var opts reportdata.Options
	if signer != nil && tlsCfg != nil && tlsCfg.ClientCAs != nil {
		opts.Trust = &registry.Trust{CoordinatorKeys: []registry.PublicKey{signer.Public()}, CAPool: tlsCfg.ClientCAs}
	}
	return func(ctx context.Context, runID, format string) ([]byte, error) {
		f, err := report.ParseFormat(format)
		if err != nil {
			return nil, err
		}
		_, b, err := renderReport(ctx, db, runID, opts, f)
		return b, err
	}
}
