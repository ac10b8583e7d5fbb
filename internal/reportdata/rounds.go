package reportdata

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/report"
)

// fillSummary fills the run's identity and configuration. The coordinator
// does not know which dataset the sites hold, so Dataset and DatasetHash
// stay empty; SchemaHash is the signed model card's and is left to the
// lineage step.
func fillSummary(ctx context.Context, s *source, d *report.Data) error {
	last, err := s.db.LastCommittedRound(ctx, s.run.ID)
	if err != nil {
		return err
	}
	cfg := s.cfg
	d.Summary = report.Summary{
		RunID: s.run.ID, State: string(s.run.State), Error: s.run.Error,
		CreatedAt: s.run.CreatedAt, UpdatedAt: s.run.UpdatedAt,
		Model: modelName(cfg), Strategy: strategyName(cfg),
		RoundsCompleted: last, RoundsTotal: s.run.RoundsTotal,
		SecureAggregation: secureAggregation(cfg),
		DPMode:            dpMode(cfg.DP),
	}
	return nil
}

// modelName is e.g. "logreg" or "mlp(16,8)".
func modelName(cfg coordinator.RunConfig) string {
	if len(cfg.Hidden) == 0 {
		return cfg.Model
	}
	hs := make([]string, len(cfg.Hidden))
	for i, h := range cfg.Hidden {
		hs[i] = strconv.Itoa(h)
	}
	return cfg.Model + "(" + strings.Join(hs, ",") + ")"
}

// strategyName is the strategy with the option that shapes it, e.g.
// "fedprox(mu=0.01)"; options the strategy ignores are not shown.
func strategyName(cfg coordinator.RunConfig) string {
	o := cfg.StrategyOptions
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch cfg.Strategy {
	case aggregation.NameFedProx:
		return fmt.Sprintf("%s(mu=%s)", cfg.Strategy, g(o.ProximalMu))
	case aggregation.NameTrimmedMean:
		return fmt.Sprintf("%s(trim=%s)", cfg.Strategy, g(o.TrimFraction))
	case aggregation.NameKrum, aggregation.NameMultiKrum:
		return fmt.Sprintf("%s(f=%d)", cfg.Strategy, o.KrumByzantine)
	}
	return cfg.Strategy
}

// secureAggregation reads the key epoch the run stored after its key
// ceremony: t from it (or the configured threshold) and n, its members.
func secureAggregation(cfg coordinator.RunConfig) report.SecureAggregation {
	if cfg.Secure != coordinator.SecureHE {
		return report.SecureAggregation{Mode: report.SecAggNone}
	}
	sa := report.SecureAggregation{Mode: report.SecAggHE, Threshold: cfg.Threshold}
	if e := cfg.SecAgg; e != nil {
		sa.Threshold, sa.Parties = e.Threshold, len(e.Members)
	}
	return sa
}

// dpMode is "none", the client-level mode ("central", "distributed"),
// "dpsgd" for record level only, or e.g. "central+dpsgd" for both.
func dpMode(dp *coordinator.DPConfig) string {
	var parts []string
	if dp != nil && dp.Client != nil {
		parts = append(parts, dp.Client.Mode)
	}
	if dp != nil && dp.Record != nil {
		parts = append(parts, "dpsgd")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// fillRounds lists every attempt with its stored metrics. The per-round
// fairness audit metrics ("fair.<family>.<metric>") that the fairness
// section shows are left out of Metrics; the calibration gap, which that
// section has no column for, stays.
func fillRounds(_ context.Context, s *source, d *report.Data) error {
	for _, rec := range s.rounds {
		r := report.Round{Round: rec.Round, Attempt: rec.Attempt, Status: rec.Status, Reason: rec.Reason,
			Selected: len(rec.Participants), Duration: rec.EndedAt.Sub(rec.StartedAt)}
		for _, p := range rec.Participants {
			if p.Status == store.ParticipantAccepted {
				r.Accepted++
			}
		}
		m := map[string]float64{}
		for k, v := range rec.Metrics {
			if _, metric, ok := parseFairnessMetric(k); ok && metric != calibrationGap {
				continue
			}
			m[k] = v
		}
		r.Metrics = report.FloatMap(m)
		d.Rounds = append(d.Rounds, r)
	}
	return nil
}

// fillParticipation counts, for every site that took part in any attempt,
// the committed rounds whose aggregate includes its update.
//
// Examples is the largest example count stored for the site in
// round_participants.num_examples: the size of its data it announced when it
// connected (self-reported; under secure aggregation the coordinator cannot
// see the count each update carries).
func fillParticipation(_ context.Context, s *source, d *report.Data) error {
	sites := map[string]*report.Site{}
	for _, rec := range s.rounds {
		for _, p := range rec.Participants {
			site := sites[p.Client]
			if site == nil {
				site = &report.Site{Name: p.Client}
				sites[p.Client] = site
			}
			if rec.Status == store.RoundCommitted && p.Status == store.ParticipantAccepted {
				site.Rounds++
				site.Examples = max(site.Examples, p.NumExamples)
			}
		}
	}
	for _, site := range sites {
		d.Participation = append(d.Participation, *site)
	}
	slices.SortFunc(d.Participation, func(a, b report.Site) int { return strings.Compare(a.Name, b.Name) })
	return nil
}
