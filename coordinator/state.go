package coordinator

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy/ledger"
)

// coordinatorMigrations are the coordinator's own tables in the store's file.
var coordinatorMigrations = []store.Migration{{
	Name: "strategy state per committed round",
	SQL: `CREATE TABLE strategy_state (
		run_id TEXT NOT NULL,
		round  INTEGER NOT NULL,
		state  BLOB NOT NULL,
		PRIMARY KEY (run_id, round)
	) STRICT`,
}, publicationMigration, artifactMigration}

// commitRound commits the round, its model version and, in the same
// transaction, the strategy's server-optimiser state, so a crash can never
// pair a model with the optimiser state of another round.
func (e *Engine) commitRound(ctx context.Context, ar *activeRun, rec store.RoundRecord, mv store.ModelVersion) error {
	var state []byte
	if st, ok := ar.strategy.(aggregation.StatefulStrategy); ok {
		var err error
		if state, err = st.MarshalState(); err != nil {
			return fmt.Errorf("coordinator: strategy state: %w", err)
		}
	}
	var ids []int64
	if ar.dp != nil {
		ids, ar.dp.ids = ar.dp.ids, nil
	}
	pending := e.takePending()
	pending = append(pending, e.commitEvent(rec, mv))
	err := e.o.Store.CommitRoundTx(ctx, rec, mv, func(tx *sql.Tx) error {
		if err := ledger.ReleaseTx(ctx, tx, ids); err != nil {
			return err
		}
		if err := e.flushAuditTx(ctx, tx, pending); err != nil {
			return err
		}
		if state == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO strategy_state (run_id, round, state) VALUES (?, ?, ?)`, rec.RunID, rec.Round, state)
		return err
	})
	if err != nil {
		e.amu.Lock()
		e.pending = append(pending[:len(pending)-1], e.pending...) // not committed: keep them for the failure record
		e.amu.Unlock()
	}
	return err
}

// commitEvent is the audit event of a committed round.
func (e *Engine) commitEvent(rec store.RoundRecord, mv store.ModelVersion) audit.Event {
	accepted := acceptedSites(rec)
	d, _ := json.Marshal(map[string]any{"attempt": rec.Attempt, "model_version": mv.Version,
		"params_sha256": hexDigest(protocol.ValuesSHA256(mv.Params)), "accepted": accepted})
	return audit.Event{Kind: audit.KindRoundCommitted, RunID: rec.RunID, Round: rec.Round, Actor: audit.ActorCoordinator,
		Subject: fmt.Sprintf("model version %d", mv.Version), Detail: d}
}

// restoreStrategy loads the strategy state committed with round r.
func (e *Engine) restoreStrategy(ctx context.Context, ar *activeRun, r int) error {
	st, ok := ar.strategy.(aggregation.StatefulStrategy)
	if !ok || r == 0 {
		return nil
	}
	var b []byte
	err := e.o.Store.SQL().QueryRowContext(ctx, `SELECT state FROM strategy_state WHERE run_id = ? AND round = ?`, ar.cfg.RunID, r).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("coordinator: run %q: no %s optimiser state stored for round %d", ar.cfg.RunID, ar.strategy.Name(), r)
	}
	if err != nil {
		return fmt.Errorf("coordinator: reading strategy state: %w", err)
	}
	if err := st.UnmarshalState(b); err != nil {
		return fmt.Errorf("coordinator: restoring %s state of round %d: %w", ar.strategy.Name(), r, err)
	}
	return nil
}

// countsFromSum decodes a decrypted evaluation sum.
func countsFromSum(sum []float64) (model.Counts, error) {
	return secwire.CountsFromVector(sum, EvalBins)
}

// acceptedSites lists the sites whose results a round accepted, in the
// record's order (never nil).
func acceptedSites(rec store.RoundRecord) []string {
	accepted := []string{}
	for _, p := range rec.Participants {
		if p.Status == "accepted" {
			accepted = append(accepted, p.Client)
		}
	}
	return accepted
}

// announcedExamples returns the example counts the connected sites announced
// when they connected (empty if the dispatcher does not list sites).
func (e *Engine) announcedExamples() map[string]int64 {
	counts := map[string]int64{}
	if sl, ok := e.o.Dispatcher.(SiteLister); ok {
		for _, s := range sl.Sites() {
			counts[s.Name] = s.NumExamples
		}
	}
	return counts
}
