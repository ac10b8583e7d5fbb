package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"
)

func roundRec(run string, r, attempt int) RoundRecord {
	start := time.Date(2025, 3, 1, 12, r, attempt, 0, time.UTC)
	return RoundRecord{
		RunID: run, Round: r, Attempt: attempt, StartedAt: start, EndedAt: start.Add(time.Second),
		Participants: []Participant{
			{Client: "site-b", NumExamples: 200, Status: ParticipantAccepted, UpdateHash: []byte{byte(r), 1}},
			{Client: "site-a", NumExamples: 100, Status: ParticipantAccepted},
			{Client: "site-c", Status: ParticipantDropped, Reason: "deadline"},
		},
		Metrics: map[string]float64{"eval_loss": 1 / float64(r), "eval_accuracy": 0.5 + float64(r)/100},
	}
}

func commit(t *testing.T, d *DB, run string, r, attempt int) RoundRecord {
	t.Helper()
	rec := roundRec(run, r, attempt)
	if err := d.CommitRound(context.Background(), rec, ModelVersion{Version: r, Round: r, Params: params(r, 4)}); err != nil {
		t.Fatalf("CommitRound(%s, %d) = %v", run, r, err)
	}
	rec.Status = RoundCommitted
	return rec
}

func TestCommitRoundRoundTrip(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	createRun(t, d, "run")
	createRun(t, d, "other")
	if last, err := d.LastCommittedRound(ctx, "run"); err != nil || last != 0 {
		t.Errorf("LastCommittedRound before commits = %d, %v; want 0", last, err)
	}

	var want []RoundRecord
	want = append(want, commit(t, d, "run", 1, 0))
	failed := roundRec("run", 2, 0)
	failed.Reason = "too few sites"
	failed.Participants = failed.Participants[2:]
	failed.Metrics = nil
	if err := d.RecordFailedRound(ctx, failed); err != nil {
		t.Fatalf("RecordFailedRound = %v", err)
	}
	failed.Status = RoundFailed
	want = append(want, failed)
	if n, err := d.NextAttempt(ctx, "run", 2); err != nil || n != 1 {
		t.Errorf("NextAttempt(2) = %d, %v; want 1", n, err)
	}
	r2 := commit(t, d, "run", 2, 1)
	want = append(want, r2)
	r3 := roundRec("run", 3, 0)
	r3.Metrics["eval_auc"] = math.NaN()
	r3.Metrics["inf"] = math.Inf(1)
	if err := d.CommitRound(ctx, r3, ModelVersion{Version: 3, Round: 3, Params: params(3, 4)}); err != nil {
		t.Fatal(err)
	}
	r3.Status = RoundCommitted
	want = append(want, r3)
	commit(t, d, "other", 1, 0) // another run's rows must not leak in

	got, err := d.Rounds(ctx, "run")
	if err != nil {
		t.Fatalf("Rounds = %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Rounds returned %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !math.IsNaN(w.Metrics["eval_auc"]) {
			if !reflect.DeepEqual(g, w) {
				t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
			}
			continue
		}
		if !math.IsNaN(g.Metrics["eval_auc"]) {
			t.Errorf("record %d: eval_auc = %v, want NaN", i, g.Metrics["eval_auc"])
		}
		delete(g.Metrics, "eval_auc")
		delete(w.Metrics, "eval_auc")
		if !reflect.DeepEqual(g, w) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}

	if last, err := d.LastCommittedRound(ctx, "run"); err != nil || last != 3 {
		t.Errorf("LastCommittedRound = %d, %v; want 3", last, err)
	}
	models, err := d.ListModels(ctx, "run")
	if err != nil || len(models) != 4 {
		t.Fatalf("ListModels = %d models, %v; want 4", len(models), err)
	}
	for v, m := range models {
		if m.Version != v || m.Round != v || m.Params != nil || m.NumParams != 4 || m.SHA256 == ([32]byte{}) {
			t.Errorf("ListModels[%d] = %+v", v, m)
		}
	}
	latest, err := d.LatestModel(ctx, "run")
	if err != nil || latest.Version != 3 || !reflect.DeepEqual(latest.Params, params(3, 4)) || latest.SHA256 != models[3].SHA256 {
		t.Errorf("LatestModel = %+v, %v; want version 3", latest, err)
	}
	if _, err := d.GetModel(ctx, "run", 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetModel(4) = %v, want ErrNotFound", err)
	}
	for _, f := range []func() error{
		func() error { _, err := d.Rounds(ctx, "nope"); return err },
		func() error { _, err := d.LastCommittedRound(ctx, "nope"); return err },
		func() error { _, err := d.ListModels(ctx, "nope"); return err },
		func() error { _, err := d.LatestModel(ctx, "nope"); return err },
		func() error { _, err := d.NextAttempt(ctx, "nope", 1); return err },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) {
			t.Errorf("query on missing run = %v, want ErrNotFound", err)
		}
	}
}

// snapshot counts the rows a round commit touches.
func snapshot(t *testing.T, d *DB) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, tab := range []string{"rounds", "round_participants", "round_metrics", "model_versions", "extra"} {
		m[tab] = countRows(t, d, tab)
	}
	return m
}

func TestCommitRoundIsAtomic(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	createRun(t, d, "run")
	db := d.SQL()
	if _, err := db.Exec(`CREATE TABLE extra (note TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	// A trigger makes the database itself fail half-way through the
	// commit, after the round row and participants are inserted.
	if _, err := db.Exec(`CREATE TRIGGER boom BEFORE INSERT ON round_metrics WHEN NEW.name = 'boom'
		BEGIN SELECT RAISE(ABORT, 'boom metric'); END`); err != nil {
		t.Fatal(err)
	}
	commit(t, d, "run", 1, 0)
	before := snapshot(t, d)
	mv2 := ModelVersion{Version: 2, Round: 2, Params: params(2, 4)}
	writeExtra := func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO extra VALUES ('ledger entry')`)
		return err
	}
	errExtra := errors.New("ledger refused")

	tests := []struct {
		name  string
		rec   RoundRecord
		mv    ModelVersion
		extra func(*sql.Tx) error
		want  error // nil: any error
	}{
		{"duplicate round", roundRec("run", 1, 1), ModelVersion{Version: 1, Round: 1, Params: params(1, 4)}, writeExtra, ErrConflict},
		{"extra fails after all rows", roundRec("run", 2, 0), mv2, func(tx *sql.Tx) error {
			if err := writeExtra(tx); err != nil {
				return err
			}
			return errExtra
		}, errExtra},
		{"database fails mid-commit", func() RoundRecord {
			r := roundRec("run", 2, 0)
			r.Metrics = map[string]float64{"boom": 1}
			return r
		}(), mv2, writeExtra, nil},
		{"model version already exists", roundRec("run", 2, 0), ModelVersion{Version: 2, Round: 2, Params: params(2, 4)}, nil, nil},
	}
	// Make the last case fail late: a stray model version 2 with no round.
	// It is removed again before the check of the final state.
	for _, tt := range tests {
		if tt.name == "model version already exists" {
			if _, err := db.Exec(`INSERT INTO model_versions SELECT run_id, 2, 2, num_params, sha256, params, created_at, storage
				FROM model_versions WHERE run_id = 'run' AND version = 1`); err != nil {
				t.Fatal(err)
			}
			before = snapshot(t, d)
		}
		err := d.CommitRoundTx(ctx, tt.rec, tt.mv, tt.extra)
		if err == nil {
			t.Errorf("%s: CommitRoundTx succeeded, want error", tt.name)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: CommitRoundTx = %v, want %v", tt.name, err, tt.want)
		}
		if after := snapshot(t, d); !reflect.DeepEqual(after, before) {
			t.Errorf("%s: rows changed by a failed commit: before %v, after %v", tt.name, before, after)
		}
	}
	if _, err := db.Exec(`DELETE FROM model_versions WHERE version = 2`); err != nil {
		t.Fatal(err)
	}

	// A panic in extra also rolls everything back.
	before = snapshot(t, d)
	func() {
		defer func() { recover() }()
		_ = d.CommitRoundTx(ctx, roundRec("run", 2, 0), mv2, func(tx *sql.Tx) error {
			if err := writeExtra(tx); err != nil {
				return err
			}
			panic("extra panicked")
		})
	}()
	if after := snapshot(t, d); !reflect.DeepEqual(after, before) {
		t.Errorf("panic in extra: rows changed: before %v, after %v", before, after)
	}

	// And a successful commit writes everything, extra included.
	if err := d.CommitRoundTx(ctx, roundRec("run", 2, 0), mv2, writeExtra); err != nil {
		t.Fatalf("CommitRoundTx = %v", err)
	}
	after := snapshot(t, d)
	want := map[string]int{"rounds": 2, "round_participants": 6, "round_metrics": 4, "model_versions": 3, "extra": 1}
	if !reflect.DeepEqual(after, want) {
		t.Errorf("after good commit rows = %v, want %v", after, want)
	}
}

func TestCommitRoundRejects(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	createRun(t, d, "run")
	createRun(t, d, "stopped")
	if err := d.SetRunState(ctx, "stopped", RunStopped, "operator"); err != nil {
		t.Fatal(err)
	}
	commit(t, d, "run", 1, 0)
	if err := d.RecordFailedRound(ctx, roundRec("run", 2, 0)); err != nil {
		t.Fatal(err)
	}
	mv := func(v int) ModelVersion { return ModelVersion{Version: v, Round: v, Params: params(v, 4)} }
	with := func(f func(*RoundRecord)) RoundRecord { r := roundRec("run", 2, 1); f(&r); return r }

	tests := []struct {
		name string
		rec  RoundRecord
		mv   ModelVersion
		want error
	}{
		{"skips a round", roundRec("run", 3, 0), mv(3), ErrConflict},
		{"reuses failed attempt", roundRec("run", 2, 0), mv(2), ErrConflict},
		{"run stopped", roundRec("stopped", 1, 0), ModelVersion{Version: 1, Round: 1, Params: params(1, 4)}, ErrConflict},
		{"missing run", roundRec("nope", 1, 0), mv(1), ErrNotFound},
		{"version mismatch", roundRec("run", 2, 1), mv(3), ErrInvalid},
		{"model of other run", roundRec("run", 2, 1), ModelVersion{RunID: "stopped", Version: 2, Round: 2, Params: params(2, 4)}, ErrInvalid},
		{"empty params", roundRec("run", 2, 1), ModelVersion{Version: 2, Round: 2}, ErrInvalid},
		{"round 0", with(func(r *RoundRecord) { r.Round = 0 }), mv(0), ErrInvalid},
		{"negative attempt", with(func(r *RoundRecord) { r.Attempt = -1 }), mv(2), ErrInvalid},
		{"failed status", with(func(r *RoundRecord) { r.Status = RoundFailed }), mv(2), ErrInvalid},
		{"empty client", with(func(r *RoundRecord) { r.Participants[0].Client = "" }), mv(2), ErrInvalid},
		{"duplicate client", with(func(r *RoundRecord) { r.Participants[1].Client = "site-b" }), mv(2), ErrInvalid},
		{"bad participant status", with(func(r *RoundRecord) { r.Participants[0].Status = "ok" }), mv(2), ErrInvalid},
		{"negative examples", with(func(r *RoundRecord) { r.Participants[0].NumExamples = -1 }), mv(2), ErrInvalid},
		{"empty metric name", with(func(r *RoundRecord) { r.Metrics[""] = 1 }), mv(2), ErrInvalid},
		{"empty run id", with(func(r *RoundRecord) { r.RunID = "" }), mv(2), ErrInvalid},
	}
	before := snapshotNoExtra(t, d)
	for _, tt := range tests {
		if err := d.CommitRound(ctx, tt.rec, tt.mv); !errors.Is(err, tt.want) {
			t.Errorf("%s: CommitRound = %v, want %v", tt.name, err, tt.want)
		}
	}
	if after := snapshotNoExtra(t, d); !reflect.DeepEqual(after, before) {
		t.Errorf("rejected commits changed rows: before %v, after %v", before, after)
	}

	// Failed attempts obey the same ordering rules.
	if err := d.RecordFailedRound(ctx, roundRec("run", 1, 1)); !errors.Is(err, ErrConflict) {
		t.Errorf("RecordFailedRound of a committed round = %v, want ErrConflict", err)
	}
	if err := d.RecordFailedRound(ctx, roundRec("run", 2, 0)); !errors.Is(err, ErrConflict) {
		t.Errorf("RecordFailedRound reusing an attempt = %v, want ErrConflict", err)
	}
	bad := roundRec("run", 2, 1)
	bad.Status = RoundCommitted
	if err := d.RecordFailedRound(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordFailedRound with committed status = %v, want ErrInvalid", err)
	}
	// A stopped run resumes after being set running again.
	if err := d.SetRunState(ctx, "stopped", RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	commit(t, d, "stopped", 1, 0)
}

func snapshotNoExtra(t *testing.T, d *DB) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, tab := range []string{"runs", "rounds", "round_participants", "round_metrics", "model_versions"} {
		m[tab] = countRows(t, d, tab)
	}
	return m
}

// TestConcurrentUse exercises the DB from several goroutines under -race.
func TestConcurrentUse(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	createRun(t, d, "run")
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := 1; r <= 20; r++ {
			if err := d.CommitRound(ctx, roundRec("run", r, 0), ModelVersion{Version: r, Round: r, Params: params(r, 64)}); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := 0
			for range 20 {
				last, err := d.LastCommittedRound(ctx, "run")
				if err != nil {
					errs <- err
					return
				}
				if last < prev {
					errs <- errors.New("LastCommittedRound went backwards")
					return
				}
				prev = last
				if _, err := d.LatestModel(ctx, "run"); err != nil {
					errs <- err
					return
				}
				if _, err := d.Rounds(ctx, "run"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if last, err := d.LastCommittedRound(ctx, "run"); err != nil || last != 20 {
		t.Errorf("LastCommittedRound = %d, %v; want 20", last, err)
	}
}
