package reportdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/registry"
	"github.com/cohortfl/cohort/report"
)

// RunNotFoundError reports a run ID that is not in the store. It wraps
// store.ErrNotFound and lists the runs the store does hold.
type RunNotFoundError struct {
	RunID string
	Known []string // IDs of the runs in the store, oldest first
}

func (e *RunNotFoundError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("reportdata: no run %q (the file holds no runs)", e.RunID)
	}
	return fmt.Sprintf("reportdata: no run %q (known runs: %s)", e.RunID, strings.Join(e.Known, ", "))
}

func (e *RunNotFoundError) Unwrap() error { return store.ErrNotFound }

// source is what the sections are filled from, read once by load.
type source struct {
	db     *store.DB
	run    store.Run
	cfg    coordinator.RunConfig
	rounds []store.RoundRecord
	// pub is the recorded publication decision, nil if the run has none
	// (still running, failed before the gate, or older than the gate).
	pub *coordinator.Publication
	// trust verifies the run's signed artifacts (nil: not checked).
	trust *registry.Trust
}

// sections fill report.Data from the source, one report section each, in
// this order (fillPrivacy adds ε to the rounds fillRounds made).
var sections = []struct {
	name string
	fill func(context.Context, *source, *report.Data) error
}{
	{"summary", fillSummary},
	{"rounds", fillRounds},
	{"participation", fillParticipation},
	{"privacy", fillPrivacy},
	{"fairness", fillFairness},
	{"gate", fillGate},
	{"explanations", fillExplanations},
	{"verification", fillVerification},
	{"lineage", fillLineage},
}

// Build reads everything the report of run runID shows from db. A run ID
// that is not in db gives a *RunNotFoundError. Data.GeneratedAt is left
// zero. Signed artifacts are listed in Lineage but their signatures are not
// checked (see BuildWith).
func Build(ctx context.Context, db *store.DB, runID string) (report.Data, error) {
	return BuildWith(ctx, db, runID, Options{})
}

// Options configure BuildWith.
type Options struct {
	// Trust, if set, verifies every signed model artifact of the run
	// (registry.Verify); without it the report says they were not checked.
	Trust *registry.Trust
}

// BuildWith is Build with options.
func BuildWith(ctx context.Context, db *store.DB, runID string, o Options) (report.Data, error) {
	s, err := load(ctx, db, runID)
	if err != nil {
		return report.Data{}, err
	}
	s.trust = o.Trust
	var d report.Data
	for _, sec := range sections {
		if err := sec.fill(ctx, s, &d); err != nil {
			return report.Data{}, fmt.Errorf("reportdata: run %q: %s: %w", runID, sec.name, err)
		}
	}
	return d, nil
}

func load(ctx context.Context, db *store.DB, runID string) (*source, error) {
	run, err := db.GetRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		runs, lerr := db.ListRuns(ctx)
		if lerr != nil {
			return nil, errors.Join(err, lerr)
		}
		nf := &RunNotFoundError{RunID: runID}
		for _, r := range runs {
			nf.Known = append(nf.Known, r.ID)
		}
		return nil, nf
	}
	if err != nil {
		return nil, err
	}
	s := &source{db: db, run: run}
	if err := json.Unmarshal([]byte(run.ConfigJSON), &s.cfg); err != nil {
		return nil, fmt.Errorf("reportdata: run %q has an unreadable configuration: %w", runID, err)
	}
	if s.rounds, err = db.Rounds(ctx, runID); err != nil {
		return nil, err
	}
	pub, err := coordinator.LoadPublication(ctx, db, runID)
	switch {
	case err == nil:
		s.pub = &pub
	case errors.Is(err, coordinator.ErrNoPublication):
	default:
		return nil, err
	}
	return s, nil
}
