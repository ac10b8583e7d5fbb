package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/dataset"
)

// loadTableFlags loads an embedded dataset or a CSV with an optional JSON
// schema file, as the simulate and client verbs accept them.
func loadTableFlags(name, path, label, positive, schemaFile string) (*dataset.Table, error) {
	var s dataset.Schema
	var emb *dataset.Embedded
	switch {
	case name != "" && path != "":
		return nil, fmt.Errorf("give either --dataset or --data, not both")
	case name != "":
		e, err := dataset.Builtin(name)
		if err != nil {
			return nil, err
		}
		emb, s = e, e.Schema
	case path == "":
		return nil, fmt.Errorf("give --dataset NAME or --data FILE.csv")
	}
	if schemaFile != "" {
		b, err := os.ReadFile(schemaFile)
		if err != nil {
			return nil, fmt.Errorf("--schema: %w", err)
		}
		s = dataset.Schema{}
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("--schema %s: not a valid schema: %w", schemaFile, err)
		}
	}
	if label != "" {
		s.Label, s.Positive = label, positive
	}
	if emb != nil {
		return emb.LoadWith(s)
	}
	if s.Label == "" {
		return nil, fmt.Errorf("--data needs --label (or a --schema naming the label)")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	defer f.Close()
	return dataset.Load(f, path, s)
}

// DatasetsOptions are the flags of `cohort datasets`.
type DatasetsOptions struct {
	IO     *IO
	Output string
	Schema bool
}

func newCmdDatasets(ios *IO) *cobra.Command {
	o := &DatasetsOptions{IO: ios}
	cmd := &cobra.Command{Use: "datasets", Short: "List and describe the embedded datasets"}
	list := &cobra.Command{
		Use: "list", Short: "List the embedded datasets", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return datasetsListRun(o) },
	}
	list.Flags().StringVar(&o.Output, "output", "text", "text or json")
	show := &cobra.Command{
		Use: "show NAME", Short: "Describe one embedded dataset: schema, columns, encoded features", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return datasetsShowRun(o, args[0]) },
	}
	show.Flags().StringVar(&o.Output, "output", "text", "text or json")
	show.Flags().BoolVar(&o.Schema, "schema", false, "print only the JSON schema (for client run --schema)")
	cmd.AddCommand(list, show)
	return cmd
}

func datasetsListRun(o *DatasetsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	infos := dataset.Builtins()
	if o.Output == "json" {
		return writeJSON(o.IO.Out, infos)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROWS\tLABEL\tPOSITIVE RATE\tPROTECTED")
	for _, d := range infos {
		fmt.Fprintf(tw, "%s\t%d\t%s=%s\t%.3f\t%s\n", d.Name, d.Rows, d.Schema.Label, d.Schema.Positive,
			float64(d.Positives)/float64(d.Rows), strings.Join(d.Schema.Protected, ","))
	}
	return tw.Flush()
}

type datasetDescription struct {
	dataset.BuiltinInfo
	Columns  []string `json:"columns"`
	Features []string `json:"features"`
}

func datasetsShowRun(o *DatasetsOptions, name string) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	e, err := dataset.Builtin(name)
	if err != nil {
		return err
	}
	if o.Schema {
		return writeJSON(o.IO.Out, e.Schema)
	}
	t, err := e.Load()
	if err != nil {
		return err
	}
	enc, err := dataset.NewEncoder(t)
	if err != nil {
		return err
	}
	d := datasetDescription{BuiltinInfo: e.BuiltinInfo, Columns: t.Columns(), Features: enc.FeatureNames()}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, d)
	}
	fmt.Fprintf(o.IO.Out, "%s: %s\n\n", d.Name, d.Description)
	fmt.Fprintf(o.IO.Out, "rows %d, positives %d (%.1f%%)\nlabel %s, positive class %q\n", d.Rows, d.Positives,
		100*float64(d.Positives)/float64(d.Rows), d.Schema.Label, d.Schema.Positive)
	fmt.Fprintf(o.IO.Out, "protected: %s\ndropped (leakage): %s\n", strings.Join(d.Schema.Protected, ", "), strings.Join(d.Schema.Drop, ", "))
	fmt.Fprintf(o.IO.Out, "columns (%d): %s\n", len(d.Columns), strings.Join(d.Columns, ", "))
	fmt.Fprintf(o.IO.Out, "encoded features (%d): %s\n", len(d.Features), strings.Join(d.Features, ", "))
	return nil
}
