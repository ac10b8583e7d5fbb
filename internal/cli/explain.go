package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/model"
)

// ExplainOptions are the flags of `cohort explain`.
type ExplainOptions struct {
	IO                 *IO
	DB                 string
	Version            int
	Dataset, Data      string
	Label, Positive    string
	Schema             string
	Rows               string
	Top                int
	AdverseIsNegative  bool
	Output             string
	BackgroundRowLimit int
	AllowUnpublished   bool
}

func newCmdExplain(ios *IO) *cobra.Command {
	o := &ExplainOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "explain RUN",
		Short: "Explain predictions of a run's model for rows of a CSV or embedded dataset",
		Long: `Explain rows with the model a run committed: exact linear SHAP on the logit for
logistic and softmax regression, KernelSHAP on the probability for other
models. Features are encoded with the dataset's schema and standardised with
the run's federated moments, as in training; the background is the explained
file's own rows. Prints each row's score and its top reason codes.`,
		Example: "  cohort explain RUN --db results/cohort.db --dataset hmda --rows 1,2,3 --top 3",
		Args:    cobra.ExactArgs(1),
		RunE:    func(_ *cobra.Command, a []string) error { return explainRun(o, a[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.DB, "db", "cohort.db", "coordinator SQLite state file")
	f.IntVar(&o.Version, "version", -1, "model version (default: the latest)")
	f.StringVar(&o.Dataset, "dataset", "", "embedded dataset whose rows to explain")
	f.StringVar(&o.Data, "data", "", "CSV file whose rows to explain")
	f.StringVar(&o.Label, "label", "", "label column (with --data)")
	f.StringVar(&o.Positive, "positive", "", "positive label value (with --data)")
	f.StringVar(&o.Schema, "schema", "", "JSON schema shared with training")
	f.StringVar(&o.Rows, "rows", "1", "data rows to explain, 1-based, comma separated")
	f.IntVar(&o.Top, "top", 3, "reason codes per row")
	f.BoolVar(&o.AdverseIsNegative, "adverse-negative", false, "the adverse outcome is class 0 (default: class 1, e.g. hmda deny=yes)")
	f.IntVar(&o.BackgroundRowLimit, "background", 200, "background rows for KernelSHAP (non-linear models)")
	f.StringVar(&o.Output, "output", "text", "text or json")
	f.BoolVar(&o.AllowUnpublished, "allow-unpublished", false, "explain a model version the publish gate rejected")
	return cmd
}

type explainedRow struct {
	Row int `json:"row"`
	client.Explanation
}

func explainRun(o *ExplainOptions, run string) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	ctx := context.Background()
	db, cfg, err := openRunDB(ctx, o.DB, run)
	if err != nil {
		return err
	}
	defer db.Close()
	version := o.Version
	if version < 0 {
		if version, err = db.LastCommittedRound(ctx, run); err != nil {
			return err
		}
	}
	if err := checkPublished(ctx, db, run, version, o.AllowUnpublished, o.IO.Err); err != nil {
		return err
	}
	mv, err := db.GetModel(ctx, run, version)
	if err != nil {
		return fmt.Errorf("model %d of run %q: %w", version, run, err)
	}
	t, err := loadTableFlags(o.Dataset, o.Data, o.Label, o.Positive, o.Schema)
	if err != nil {
		return err
	}
	enc, err := dataset.NewEncoder(t)
	if err != nil {
		return err
	}
	ex, err := enc.Encode(t)
	if err != nil {
		return err
	}
	if ex.D != cfg.Features {
		return fmt.Errorf("the data encode to %d features but run %q was trained on %d (different schema?)", ex.D, run, cfg.Features)
	}
	raw := ex.Subset(seqRows(ex.N)) // unstandardised values, for display
	if cfg.FeatureMoments != nil {
		st, err := dataset.NewStandardizer(cfg.FeatureMoments, ex.D)
		if err != nil {
			return err
		}
		if err := st.Apply(&ex); err != nil {
			return err
		}
	}
	m, err := model.New(model.Spec{Name: cfg.Model, Features: cfg.Features, Classes: cfg.Classes, Hidden: cfg.Hidden})
	if err != nil {
		return err
	}
	bg := ex.X
	if n := min(o.BackgroundRowLimit, ex.N); cfg.Model != model.LogReg && cfg.Model != model.Softmax {
		bg = ex.X[:n*ex.D]
	}
	var out []explainedRow
	for _, s := range strings.Split(o.Rows, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || i < 1 || i > ex.N {
			return fmt.Errorf("--rows: %q is not a row number in 1..%d", s, ex.N)
		}
		e, err := client.Explain(m, mv.Params, ex.Row(i-1), bg, enc.FeatureNames(), o.Top, !o.AdverseIsNegative)
		if err != nil {
			return err
		}
		for j := range e.Reasons {
			e.Reasons[j].Value = raw.Row(i - 1)[e.Reasons[j].Feature]
		}
		out = append(out, explainedRow{Row: i, Explanation: e})
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, map[string]any{"run_id": run, "model_version": version, "rows": out})
	}
	for _, row := range out {
		fmt.Fprintf(o.IO.Out, "row %d: score %.4f (base %.4f on the %s scale)\n", row.Row, row.Score, row.Base, row.Scale)
		tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
		for _, rc := range row.Reasons {
			fmt.Fprintf(tw, "  %s\tvalue %.4g\tφ %+.4f\n", rc.Name, rc.Value, rc.Phi)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func seqRows(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// checkPublished refuses a model version the publish gate rejected (unless
// allowed), and notes a run that has no publication decision.
func checkPublished(ctx context.Context, db *store.DB, run string, version int, allow bool, warn io.Writer) error {
	pub, err := coordinator.LoadPublication(ctx, db, run)
	switch {
	case errors.Is(err, coordinator.ErrNoPublication):
		fmt.Fprintf(warn, "note: run %q has no publication decision (still running, failed, or older than the gate); explaining version %d anyway\n", run, version)
		return nil
	case err != nil:
		return err
	case pub.Version == version && !pub.Published && !allow:
		return fmt.Errorf("model version %d of run %q was not published: the gate rejected it (%s); pass --allow-unpublished to explain it anyway",
			version, run, pub.Decision.Summary())
	case pub.Version != version:
		fmt.Fprintf(warn, "note: version %d of run %q is an intermediate model; the gate decided on version %d (published: %v)\n",
			version, run, pub.Version, pub.Published)
	}
	return nil
}
