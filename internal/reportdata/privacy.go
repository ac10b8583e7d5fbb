package reportdata

import (
	"context"
	"math"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/privacy/accountant"
	"github.com/cohortfl/cohort/privacy/ledger"
	"github.com/cohortfl/cohort/report"
)

// Ledger parties besides ledger.ClientParty and site names: "records" is
// the party of the reweighing count release (coordinator/fairness.go),
// accounted with RDP at fairness.count_delta (default 1e-5), as the
// coordinator does.
const (
	recordsParty      = coordinator.RecordsParty
	defaultCountDelta = coordinator.DefaultCountDelta
)

// fillPrivacy fills the privacy section from the ledger, nil when the run
// has neither client- nor record-level DP and no ledger rows. ε is
// recomputed from the ledger with the run's accountant, the way the
// coordinator computes it (coordinator/dp.go spent): every row counts,
// pending ones included (a release reserved by an attempt that then failed
// may have happened).
//
// The headline ε is client level if the run has client-level DP, else the
// largest record-level ε of any site. ε after committed round r is the
// round's stored metric ("epsilon_client" or "epsilon_record_max") if there
// is one (the coordinator stores them with the round's evaluation metrics),
// else that of every row written up to round r's commit; it is also added
// to the round's metrics as report.MetricEpsilon.
func fillPrivacy(ctx context.Context, s *source, d *report.Data) error {
	l, err := ledger.Open(ctx, s.db)
	if err != nil {
		return err
	}
	entries, err := l.Entries(ctx, s.run.ID, "")
	if err != nil {
		return err
	}
	dp := s.cfg.DP
	enabled := dp != nil && (dp.Client != nil || dp.Record != nil)
	if !enabled && len(entries) == 0 {
		return nil
	}
	a, err := newAccounting(dp, s.cfg.Fairness)
	if err != nil {
		return err
	}
	p := &report.Privacy{Accountant: a.name, Delta: report.Float(math.NaN()), EpsilonBudget: report.Float(math.NaN()),
		Ledger: []report.LedgerEntry{}}
	switch {
	case dp != nil && dp.Client != nil:
		p.Delta, p.EpsilonBudget = report.Float(dp.Client.Delta), report.Float(dp.Client.Epsilon)
	case dp != nil && dp.Record != nil:
		p.Delta, p.EpsilonBudget = report.Float(dp.Record.Delta), report.Float(dp.Record.Epsilon)
	}

	byParty := map[string][]ledger.Entry{}
	for _, e := range entries {
		byParty[e.Party] = append(byParty[e.Party], e)
		p.Ledger = append(p.Ledger, report.LedgerEntry{Party: e.Party, Round: e.Round, Attempt: e.Attempt,
			Purpose: e.Purpose, Mechanism: e.Mechanism, Sigma: report.Float(e.Sigma), Q: report.Float(e.Q),
			Steps: e.Steps, EpsilonAfter: report.Float(a.spent(e.Party, byParty[e.Party])), Status: e.Status})
	}

	headlineMetric := "epsilon_record_max"
	if dp != nil && dp.Client != nil {
		headlineMetric = "epsilon_client"
	}
	headline := func(upTo int64) float64 { // ε of the rows with id <= upTo
		prefix := func(es []ledger.Entry) []ledger.Entry {
			n := 0
			for n < len(es) && es[n].ID <= upTo {
				n++
			}
			return es[:n]
		}
		if dp != nil && dp.Client != nil {
			return a.spent(ledger.ClientParty, prefix(byParty[ledger.ClientParty]))
		}
		worst := math.NaN()
		for party, es := range byParty {
			if party == ledger.ClientParty || party == recordsParty {
				continue
			}
			if eps := a.spent(party, prefix(es)); math.IsNaN(worst) || eps > worst {
				worst = eps
			}
		}
		return worst
	}
	for _, rec := range s.rounds {
		if !enabled || rec.Status != store.RoundCommitted {
			continue // no training DP (only a reweighing count release): no ε per round
		}
		eps, ok := rec.Metrics[headlineMetric]
		if !ok {
			// The rows written before round r committed: up to the last
			// one reserved for round r (round r+1 reserves only after the
			// commit).
			upTo := int64(-1)
			for _, e := range entries {
				if e.Round <= rec.Round && e.Party != recordsParty {
					upTo = max(upTo, e.ID)
				}
			}
			eps = math.NaN()
			if upTo >= 0 {
				eps = headline(upTo)
			}
		}
		p.Epsilon = append(p.Epsilon, report.RoundValue{Round: rec.Round, Value: report.Float(eps)})
		for j := range d.Rounds {
			if r := &d.Rounds[j]; r.Round == rec.Round && r.Attempt == rec.Attempt && !math.IsNaN(eps) {
				if r.Metrics == nil {
					r.Metrics = map[string]report.Float{}
				}
				r.Metrics[report.MetricEpsilon] = report.Float(eps)
			}
		}
	}
	d.Privacy = p
	return nil
}

// accounting computes ε per ledger party the way the coordinator does.
type accounting struct {
	name         string // the run's accountant, "rdp" or "pld"
	run, rdp     accountant.Accountant
	clientDelta  float64 // NaN when the run has no such budget
	recordDelta  float64
	recordsDelta float64
}

func newAccounting(dp *coordinator.DPConfig, fc *coordinator.FairnessConfig) (*accounting, error) {
	a := &accounting{name: "rdp", clientDelta: math.NaN(), recordDelta: math.NaN(), recordsDelta: defaultCountDelta}
	rdp, err := accountant.NewRDP(accountant.DefaultOrders())
	if err != nil {
		return nil, err
	}
	a.run, a.rdp = rdp, rdp
	if dp != nil && dp.Client != nil {
		a.clientDelta = dp.Client.Delta
		if dp.Client.Accountant == "pld" {
			a.name = "pld"
			if a.run, err = accountant.NewPLD(accountant.DefaultPLDConfig()); err != nil {
				return nil, err
			}
		}
	}
	if dp != nil && dp.Record != nil {
		a.recordDelta = dp.Record.Delta
	}
	if fc != nil && fc.CountDelta > 0 {
		a.recordsDelta = fc.CountDelta
	}
	return a, nil
}

// spent is ε of a party's rows at its budget's δ, NaN if the run has no
// budget for the party or the accountant fails.
func (a *accounting) spent(party string, es []ledger.Entry) float64 {
	acc, delta := a.run, a.recordDelta
	switch party {
	case ledger.ClientParty:
		delta = a.clientDelta
	case recordsParty:
		acc, delta = a.rdp, a.recordsDelta
	}
	if math.IsNaN(delta) {
		return math.NaN()
	}
	eps, err := ledger.Spent(acc, es, delta)
	if err != nil {
		return math.NaN()
	}
	return eps
}
