package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the cohort command with args and returns the process exit code.
func Main(args []string, in io.Reader, out, errw io.Writer) int {
	ios := &IO{In: in, Out: out, Err: errw}
	root := newRoot(ios)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errw)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(errw, "cohort:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func newRoot(ios *IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "cohort",
		Short:         "Cohort: federated learning with secure aggregation, privacy accounting and audits",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("log-level", "", "log level: debug, info, warn or error (default: warn for simulate, info otherwise)")
	root.AddCommand(newCmdSimulate(ios), newCmdCoordinator(ios), newCmdClient(ios), newCmdModels(ios),
		newCmdDatasets(ios), newCmdProvision(ios), newCmdRuns(ios), newCmdSites(ios), newCmdBench(ios), newCmdPrivacy(ios), newCmdExplain(ios), newCmdAudit(ios), newCmdReport(ios))
	return root
}

// logger returns a text logger on w at the level of the --log-level flag, or
// at def when the flag is not given.
func logger(cmd *cobra.Command, w io.Writer, def string) (*slog.Logger, error) {
	lv, _ := cmd.Flags().GetString("log-level")
	if lv == "" {
		lv = def
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(lv)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", lv)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// checkOutput validates an --output flag value.
func checkOutput(v string) error {
	switch v {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("--output %q: want text or json", v)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
