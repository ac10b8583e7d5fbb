package ledger

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/privacy/accountant"
)

func openTest(t *testing.T) (*store.DB, *Ledger) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return db, l
}

func rdp(t *testing.T) *accountant.RDP {
	a, err := accountant.NewRDP(accountant.DefaultOrders())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func entry(round int) Entry {
	return Entry{RunID: "r", Party: ClientParty, Round: round, Purpose: "update", Mechanism: SubsampledGaussian, Q: 1, Sigma: 2, Steps: 1}
}

// With q = 1 every release is a Gaussian mechanism with sensitivity 1 and noise
// multiplier σ; k of them compose in RDP to k·α/(2σ²). The ledger's spent ε
// after k reservations must equal the accountant's ε for k steps exactly, and
// pending rows count as much as released ones.
func TestReserveReleaseAndSpent(t *testing.T) {
	ctx := context.Background()
	db, l := openTest(t)
	acc := rdp(t)
	budget := map[string]Budget{ClientParty: {Epsilon: 100, Delta: 1e-5}}
	var ids [][]int64
	for r := 1; r <= 3; r++ {
		got, err := l.Reserve(ctx, acc, budget, entry(r))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got)
	}
	// Release rounds 1 and 2; round 3 stays pending (as after a crash).
	if err := db.Tx(ctx, func(tx *sql.Tx) error {
		return errors.Join(ReleaseTx(ctx, tx, ids[0]), ReleaseTx(ctx, tx, ids[1]))
	}); err != nil {
		t.Fatal(err)
	}
	es, err := l.Entries(ctx, "r", "")
	if err != nil || len(es) != 3 {
		t.Fatalf("Entries = %v, %v; want 3 rows", es, err)
	}
	if es[0].Status != Released || es[2].Status != Pending {
		t.Fatalf("statuses = %s, %s; want released, pending", es[0].Status, es[2].Status)
	}
	spent, err := Spent(acc, es, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	want, err := acc.Epsilon([]accountant.Event{{Q: 1, Sigma: 2, Steps: 3}}, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(spent-want) > 1e-12 {
		t.Fatalf("spent ε = %v, want %v (3 Gaussian steps, pending included)", spent, want)
	}
	// Releasing twice is an error: the row is no longer pending.
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return ReleaseTx(ctx, tx, ids[0]) }); err == nil {
		t.Fatal("releasing a released row succeeded")
	}
}

// A reservation that would exceed the budget is refused and writes nothing.
func TestBudgetRefusesTheOffendingRelease(t *testing.T) {
	ctx := context.Background()
	_, l := openTest(t)
	acc := rdp(t)
	one, _ := acc.Epsilon([]accountant.Event{{Q: 1, Sigma: 2, Steps: 1}}, 1e-5)
	two, _ := acc.Epsilon([]accountant.Event{{Q: 1, Sigma: 2, Steps: 2}}, 1e-5)
	budget := map[string]Budget{ClientParty: {Epsilon: (one + two) / 2, Delta: 1e-5}} // room for one release, not two
	if _, err := l.Reserve(ctx, acc, budget, entry(1)); err != nil {
		t.Fatalf("first release within budget refused: %v", err)
	}
	_, err := l.Reserve(ctx, acc, budget, entry(2))
	if !errors.Is(err, ErrBudgetExceeded) {
		t.Fatalf("second release: err = %v, want ErrBudgetExceeded", err)
	}
	es, _ := l.Entries(ctx, "r", ClientParty)
	if len(es) != 1 {
		t.Fatalf("%d rows after a refused release, want 1", len(es))
	}
}

func TestEntryValidation(t *testing.T) {
	bad := []Entry{
		{RunID: "", Party: "p", Mechanism: SubsampledGaussian, Q: 1, Sigma: 1, Steps: 1},
		{RunID: "r", Party: "p", Mechanism: "laplace", Q: 1, Sigma: 1, Steps: 1},
		{RunID: "r", Party: "p", Mechanism: SubsampledGaussian, Q: 0, Sigma: 1, Steps: 1},
		{RunID: "r", Party: "p", Mechanism: SubsampledGaussian, Q: 1, Sigma: math.NaN(), Steps: 1},
		{RunID: "r", Party: "p", Mechanism: SubsampledGaussian, Q: 1, Sigma: 1, Steps: 0},
	}
	for i, e := range bad {
		if err := e.Validate(); err == nil {
			t.Errorf("case %d: %+v accepted", i, e)
		}
	}
}
