package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
)

// ModelsOptions are the flags of `cohort models`.
type ModelsOptions struct {
	IO     *IO
	DB     string
	Output string
	Out    string
}

func newCmdModels(ios *IO) *cobra.Command {
	o := &ModelsOptions{IO: ios}
	cmd := &cobra.Command{Use: "models", Short: "Inspect and export model versions in a coordinator database"}
	cmd.PersistentFlags().StringVar(&o.DB, "db", "cohort.db", "coordinator SQLite state file")
	cmd.PersistentFlags().StringVar(&o.Output, "output", "text", "text or json")
	list := &cobra.Command{
		Use: "list RUN", Short: "List the model versions of a run", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error { return modelsListRun(o, a[0]) },
	}
	show := &cobra.Command{
		Use: "show RUN VERSION", Short: "Show one model version (hash, size, round)", Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, a []string) error { return modelsShowRun(o, a[0], a[1], false) },
	}
	export := &cobra.Command{
		Use: "export RUN VERSION", Short: "Export a model version's parameters as JSON", Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, a []string) error { return modelsShowRun(o, a[0], a[1], true) },
	}
	export.Flags().StringVar(&o.Out, "out", "", "file to write (default stdout)")
	cmd.AddCommand(list, show, export)
	addRegistryCommands(cmd, o)
	return cmd
}

func openExisting(path string) (*store.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("--db %s: %w", path, err)
	}
	return store.Open(path)
}

type modelJSON struct {
	RunID     string    `json:"run_id"`
	Version   int       `json:"version"`
	Round     int       `json:"round"`
	NumParams int       `json:"num_params"`
	SHA256    string    `json:"sha256"`
	CreatedAt string    `json:"created_at"`
	Params    []float64 `json:"params,omitempty"`
}

func toModelJSON(mv store.ModelVersion) modelJSON {
	return modelJSON{RunID: mv.RunID, Version: mv.Version, Round: mv.Round, NumParams: mv.NumParams,
		SHA256: hex.EncodeToString(mv.SHA256[:]), CreatedAt: mv.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), Params: mv.Params}
}

func modelsListRun(o *ModelsOptions, run string) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	db, err := openExisting(o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	mvs, err := db.ListModels(context.Background(), run)
	if err != nil {
		return err
	}
	if len(mvs) == 0 {
		return fmt.Errorf("run %q has no model versions in %s", run, o.DB)
	}
	out := make([]modelJSON, len(mvs))
	for i, mv := range mvs {
		out[i] = toModelJSON(mv)
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tROUND\tPARAMS\tSHA256\tCREATED")
	for _, m := range out {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", m.Version, m.Round, m.NumParams, m.SHA256[:16], m.CreatedAt)
	}
	return tw.Flush()
}

func modelsShowRun(o *ModelsOptions, run, version string, export bool) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	var v int
	if _, err := fmt.Sscanf(version, "%d", &v); err != nil || v < 0 {
		return fmt.Errorf("VERSION %q: want a non-negative integer", version)
	}
	db, err := openExisting(o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	mv, err := db.GetModel(context.Background(), run, v)
	if err != nil {
		return fmt.Errorf("model %d of run %q: %w", v, run, err)
	}
	m := toModelJSON(mv)
	if export {
		w := o.IO.Out
		if o.Out != "" {
			f, err := os.Create(o.Out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		return writeJSON(w, m)
	}
	m.Params = nil
	if o.Output == "json" {
		return writeJSON(o.IO.Out, m)
	}
	fmt.Fprintf(o.IO.Out, "run %s, version %d (round %d)\nparameters %d\nsha256 %s\ncreated %s\n", m.RunID, m.Version, m.Round, m.NumParams, m.SHA256, m.CreatedAt)
	return nil
}

// runConfig reads the stored configuration of run from db.
func runConfig(ctx context.Context, db *store.DB, run string) (coordinator.RunConfig, error) {
	r, err := db.GetRun(ctx, run)
	if err != nil {
		return coordinator.RunConfig{}, fmt.Errorf("run %q: %w", run, err)
	}
	var cfg coordinator.RunConfig
	if err := json.Unmarshal([]byte(r.ConfigJSON), &cfg); err != nil {
		return coordinator.RunConfig{}, fmt.Errorf("run %q has an unreadable configuration: %w", run, err)
	}
	return cfg, nil
}

// openRunDB opens an existing coordinator file and reads run's configuration.
// The caller closes the store.
func openRunDB(ctx context.Context, path, run string) (*store.DB, coordinator.RunConfig, error) {
	db, err := openExisting(path)
	if err != nil {
		return nil, coordinator.RunConfig{}, err
	}
	cfg, err := runConfig(ctx, db, run)
	if err != nil {
		db.Close()
		return nil, coordinator.RunConfig{}, err
	}
	return db, cfg, nil
}
