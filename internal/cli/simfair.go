package cli

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/gate"
	"github.com/cohortfl/cohort/internal/jsonx"
	"github.com/cohortfl/cohort/internal/sim"
	"github.com/cohortfl/cohort/registry"
)

// applyFairnessFlags moves the fairness flags into the simulation config.
func (o *SimulateOptions) applyFairnessFlags() error {
	c := &o.Config
	if o.Prot != "" {
		for _, p := range strings.Split(o.Prot, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.Protected = append(c.Protected, p)
			}
		}
	}
	if o.Fav >= 0 {
		v := o.Fav
		c.Favorable = &v
	}
	if o.Policy != "" {
		p, err := gate.Load(o.Policy)
		if err != nil {
			return err
		}
		c.Policy = &p
	}
	return nil
}

func f3(x jsonx.Float) string {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", float64(x))
}

// printFairness prints the test-set fairness audit (before and after
// reweighing), the candidate's top features and the gate decision.
func printFairness(w io.Writer, r sim.Result) error {
	if len(r.Federated.Fairness) > 0 {
		fmt.Fprintf(w, "\nfairness on the test set (favourable outcome; DI = min/max selection rate, differences are max − min):\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "model\tattributes\tDI\tSPD\tEOD\teq. odds\tAOD\taccuracy")
		row := func(name string, s *sim.Scores) {
			if s == nil {
				return
			}
			for _, f := range s.Fairness {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.4f\n", name, f.Name, f3(f.DisparateImpact), f3(f.StatisticalParityDifference),
					f3(f.EqualOpportunityDifference), f3(f.EqualizedOddsDifference), f3(f.AverageOddsDifference), s.Accuracy)
			}
		}
		if r.Unmitigated != nil {
			row("before (no reweighing)", r.Unmitigated)
			row("after (reweighed)", &r.Federated)
		} else {
			row("federated", &r.Federated)
		}
		row("centralised", &r.Centralized)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if pub := r.Publication; pub != nil {
		printPublication(w, pub)
	}
	return nil
}

// printPublication prints the candidate's global importance, flagged
// proxies and the gate decision.
func printPublication(w io.Writer, pub *coordinator.Publication) {
	if imp := pub.Importance; imp != nil && len(imp.Features) > 0 {
		fmt.Fprintf(w, "\ntop features (federated mean |SHAP|, %s, %.0f rows):", imp.Method, float64(imp.Rows))
		for i, f := range imp.Features[:min(5, len(imp.Features))] {
			fmt.Fprintf(w, " %d. %s %s", i+1, f.Name, f3(f.MeanAbs))
		}
		fmt.Fprintln(w)
	}
	var flagged []string
	for _, p := range pub.Proxies {
		if p.Flagged {
			flagged = append(flagged, fmt.Sprintf("%s ~ %s (r=%s)", p.Feature, p.Group, f3(p.R)))
		}
	}
	if len(flagged) > 0 {
		fmt.Fprintf(w, "strong proxies of protected groups: %s\n", strings.Join(flagged, ", "))
	}
	state := "published"
	if !pub.Published {
		state = "NOT published"
	}
	fmt.Fprintf(w, "gate: model version %d %s — %s\n", pub.Version, state, pub.Decision.Summary())
	if a := pub.Artifact; a != nil {
		fmt.Fprintf(w, "registry: %s %s signed (%s), co-signed by %d sites, version hash %s\n", a.Name, a.Version, a.Suite, a.Sites, a.VersionHash[:16])
	}
}

// writeSimArtifacts writes the coordinator's public signing key, the
// simulation CA and the signed model into dir.
func writeSimArtifacts(dir string, signer *registry.Signer, r sim.Result) error {
	pub, err := signer.Public().MarshalPEM()
	if err != nil {
		return err
	}
	files := map[string][]byte{"coordinator-signing.pub": pub, "ca.pem": r.CAPEM}
	if r.Artifact != nil {
		files[registry.DefaultFileName] = r.Artifact
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	return nil
}
