package bench

import (
	"context"
	"fmt"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/internal/sim"
)

// AuditConfig describes the fairness-audit measurement: the same simulated
// federation (in process, every site evaluating every round) run with
// fairness off and with the federated audit on, in the clear and through
// threshold HE, so that the evaluate phases can be compared.
type AuditConfig struct {
	Dataset   string   // embedded dataset
	Protected []string // protected attributes (their intersection is audited too)
	Clients   int
	Rounds    int
	Explain   int // rows per site explained in the publication audit
	Seed      uint64
}

func (c AuditConfig) validate() error {
	if c.Dataset == "" || len(c.Protected) == 0 || c.Clients < 2 || c.Rounds < 2 || c.Explain < 0 {
		return fmt.Errorf("bench: audit needs a dataset, protected attributes, ≥ 2 clients, ≥ 2 rounds and explain ≥ 0 (got %+v)", c)
	}
	return nil
}

// AuditRow compares the evaluate phases of one transport mode.
type AuditRow struct {
	Secure string `json:"secure"` // none or he
	// PlainEvalSeconds and AuditEvalSeconds are the mean evaluate-phase
	// times over rounds 2..R (round 1 warms caches) without and with the
	// audit; Ratio is audit / plain.
	PlainEvalSeconds float64 `json:"plain_eval_seconds"`
	AuditEvalSeconds float64 `json:"audit_eval_seconds"`
	Ratio            float64 `json:"ratio"`
	// PublicationSeconds is the publication audit phase (audit, explanation
	// of Explain rows per site and proxy moments); PublicationRatio is it
	// over PlainEvalSeconds.
	PublicationSeconds float64 `json:"publication_seconds"`
	PublicationRatio   float64 `json:"publication_ratio"`
}

// AuditResult is the outcome of MeasureAudit.
type AuditResult struct {
	Dataset     string     `json:"dataset"`
	Protected   []string   `json:"protected"`
	Groups      int        `json:"groups"`       // intersection cells each site reports
	AuditValues int        `json:"audit_values"` // values each site adds to an evaluation
	Clients     int        `json:"clients"`
	Rounds      int        `json:"rounds"`
	Rows        []AuditRow `json:"rows"`
}

// MeasureAudit runs the four simulations and compares their evaluate phases.
func MeasureAudit(ctx context.Context, c AuditConfig) (AuditResult, error) {
	if err := c.validate(); err != nil {
		return AuditResult{}, err
	}
	res := AuditResult{Dataset: c.Dataset, Protected: c.Protected, Clients: c.Clients, Rounds: c.Rounds}
	for _, secure := range []string{coordinator.SecureNone, coordinator.SecureHE} {
		row := AuditRow{Secure: secure}
		for _, mode := range []string{"off", "audit"} {
			sc := sim.DefaultConfig()
			sc.Dataset, sc.Clients, sc.Rounds, sc.Seed, sc.Secure = c.Dataset, c.Clients, c.Rounds, c.Seed, secure
			sc.Fairness, sc.ExplainRows = mode, 0
			if mode == "audit" {
				sc.Protected, sc.ExplainRows = c.Protected, c.Explain
			}
			var evals []float64
			r, err := sim.Run(ctx, sc, sim.Options{OnRound: func(rep coordinator.RoundReport) {
				if rep.Round > 1 {
					evals = append(evals, rep.EvalSeconds)
				}
			}})
			if err != nil {
				return res, fmt.Errorf("bench: audit, secure=%s, fairness=%s: %w", secure, mode, err)
			}
			mean := 0.0
			for _, v := range evals {
				mean += v / float64(len(evals))
			}
			if mode == "off" {
				row.PlainEvalSeconds = mean
				continue
			}
			row.AuditEvalSeconds = mean
			if r.Publication != nil {
				row.PublicationSeconds = r.Publication.AuditSeconds
			}
			if r.Publication != nil {
				for _, f := range r.Publication.Fairness {
					res.Groups = max(res.Groups, len(f.Groups)) // the full intersection is the partition
				}
			}
		}
		row.Ratio = row.AuditEvalSeconds / row.PlainEvalSeconds
		row.PublicationRatio = row.PublicationSeconds / row.PlainEvalSeconds
		res.Rows = append(res.Rows, row)
	}
	// Per cell: TP, FP, TN, FN and (N, Pos, ΣScore) per calibration bin.
	res.AuditValues = res.Groups * (4 + 3*fairness.DefaultDeciles)
	return res, nil
}
