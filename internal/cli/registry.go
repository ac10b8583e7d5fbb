package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/registry"
)

// ErrVerifyFailed is returned (exit status 1) when a model artifact fails
// verification.
var ErrVerifyFailed = errors.New("the model artifact fails verification")

// RegistryOptions are the flags of the signed-registry subcommands of
// `cohort models`.
type RegistryOptions struct {
	*ModelsOptions
	CA       string
	Keys     []string
	Require  string
	Force    bool
	ArtifOut string
}

func addRegistryCommands(cmd *cobra.Command, mo *ModelsOptions) {
	o := &RegistryOptions{ModelsOptions: mo}
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a signed model artifact offline: hashes, the coordinator's signature, every site's co-signature",
		Long: `Verify a model artifact (model.cohort.json) without contacting anyone: the
parameters hash to the card's params_sha256, the card is in canonical form,
the version hash covers both, the coordinator's Ed25519 signature (and
ML-DSA-65, for hybrid keys) is valid under a key you trust, and every site
listed in the card co-signed the version hash with a certificate of the
consortium CA that was valid when the model was published. Exit status 1 if
any check fails; every check is listed.`,
		Example: "  cohort models verify model.cohort.json --ca ca.pem --coordinator-key coordinator-signing.pub",
		Args:    cobra.ExactArgs(1),
		RunE:    func(_ *cobra.Command, a []string) error { return modelsVerify(o, a[0]) },
	}
	verify.Flags().StringVar(&o.CA, "ca", "", "consortium CA certificate (PEM) the sites' certificates must chain to (required)")
	verify.Flags().StringSliceVar(&o.Keys, "coordinator-key", nil, "trusted coordinator public key file(s) (PEM; required, repeatable for key rotation)")
	verify.Flags().StringVar(&o.Require, "require-sites", "", "sites that must have co-signed, comma separated")
	artifact := &cobra.Command{
		Use:     "artifact RUN",
		Short:   "Write a run's signed model artifact (model.cohort.json) from the registry",
		Example: "  cohort models artifact r1 --db cohort.db --out model.cohort.json",
		Args:    cobra.ExactArgs(1),
		RunE:    func(_ *cobra.Command, a []string) error { return modelsArtifact(o, a[0]) },
	}
	artifact.Flags().StringVar(&o.ArtifOut, "out", registry.DefaultFileName, "file to write")
	artifact.Flags().BoolVar(&o.Force, "force", false, "overwrite an existing file")
	reg := &cobra.Command{
		Use:   "registry",
		Short: "List the signed model versions (name, semantic version, parent, run, version hash)",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return modelsRegistry(o) },
	}
	cmd.AddCommand(verify, artifact, reg)
}

type verifyJSON struct {
	File        string                 `json:"file"`
	OK          bool                   `json:"ok"`
	Name        string                 `json:"name,omitempty"`
	Version     string                 `json:"version,omitempty"`
	RunID       string                 `json:"run_id,omitempty"`
	VersionHash string                 `json:"version_hash,omitempty"`
	Checks      []registry.CheckResult `json:"checks"`
}

func modelsVerify(o *RegistryOptions, path string) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.CA == "" || len(o.Keys) == 0 {
		return errors.New("verify needs --ca (the consortium CA) and --coordinator-key (the coordinator's public signing key you trust)")
	}
	trust, err := registry.LoadTrust(o.CA, o.Keys...)
	if err != nil {
		return err
	}
	if o.Require != "" {
		for _, s := range strings.Split(o.Require, ",") {
			if s = strings.TrimSpace(s); s != "" {
				trust.RequiredSites = append(trust.RequiredSites, s)
			}
		}
	}
	rep, verr := registry.VerifyFile(path, trust)
	if rep == nil {
		return verr
	}
	out := verifyJSON{File: path, OK: rep.OK, VersionHash: rep.VersionHash, Checks: rep.Checks}
	if c := rep.Card; c != nil {
		out.Name, out.Version, out.RunID = c.Name, c.Version.String(), c.RunID
	}
	if o.Output == "json" {
		if err := writeJSON(o.IO.Out, out); err != nil {
			return err
		}
	} else {
		if out.Name != "" {
			fmt.Fprintf(o.IO.Out, "%s: %s %s (run %s), version hash %s\n", path, out.Name, out.Version, out.RunID, out.VersionHash)
		}
		fmt.Fprint(o.IO.Out, rep.String())
		if rep.OK {
			fmt.Fprintln(o.IO.Out, "verified: every hash and signature checks out")
		}
	}
	if !rep.OK {
		return fmt.Errorf("%w: %w", ErrVerifyFailed, verr)
	}
	return nil
}

func modelsArtifact(o *RegistryOptions, run string) error {
	ctx := context.Background()
	db, err := openExisting(o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	arts, err := coordinator.LoadArtifacts(ctx, db, run)
	if err != nil {
		return err
	}
	if len(arts) == 0 {
		if pub, err := coordinator.LoadPublication(ctx, db, run); err == nil && !pub.Published {
			return fmt.Errorf("run %q has no signed model: the gate did not publish it (%s)", run, pub.Decision.Summary())
		}
		return fmt.Errorf("run %q has no signed model in %s (not published, or the coordinator had no signing key)", run, o.DB)
	}
	a := arts[len(arts)-1]
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if o.Force {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(o.ArtifOut, flag, 0o644)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if _, err := f.Write(a.Artifact); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "wrote %s: %s %s of run %s (%d bytes, version hash %s)\n", o.ArtifOut, a.Name, a.Version, a.RunID, len(a.Artifact), a.VersionHash)
	return nil
}

type registryJSON struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Parent       string `json:"parent,omitempty"`
	RunID        string `json:"run_id"`
	ModelVersion int    `json:"model_version"`
	VersionHash  string `json:"version_hash"`
	CreatedAt    string `json:"created_at"`
	CoSignedBy   int    `json:"cosigned_by"`
}

func modelsRegistry(o *RegistryOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	ctx := context.Background()
	db, err := openExisting(o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	arts, err := coordinator.LoadArtifacts(ctx, db, "")
	if err != nil {
		return err
	}
	out := make([]registryJSON, 0, len(arts))
	for _, a := range arts {
		r := registryJSON{Name: a.Name, Version: a.Version.String(), RunID: a.RunID, ModelVersion: a.ModelVersion,
			VersionHash: a.VersionHash, CreatedAt: a.CreatedAt.Format("2006-01-02T15:04:05Z07:00")}
		if p, err := registry.ParseArtifact(a.Artifact); err == nil {
			if pv := p.Card().ParentVersion; pv != nil {
				r.Parent = pv.String()
			}
			r.CoSignedBy = len(p.CoSignatures())
		}
		out = append(out, r)
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tPARENT\tRUN\tMODEL\tCO-SIGNED BY\tVERSION HASH\tCREATED")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d sites\t%s\t%s\n", r.Name, r.Version, dash(r.Parent), r.RunID, r.ModelVersion, r.CoSignedBy, r.VersionHash[:16], r.CreatedAt)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
