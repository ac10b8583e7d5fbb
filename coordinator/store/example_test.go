package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cohortfl/cohort/coordinator/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := store.Open(filepath.Join(dir, "cohort.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.CreateRun(ctx, store.Run{ID: "demo", ConfigJSON: `{"rounds":2}`, RoundsTotal: 2},
		store.ModelVersion{Params: []float64{0, 0}}); err != nil {
		log.Fatal(err)
	}
	rec := store.RoundRecord{
		RunID: "demo", Round: 1,
		Participants: []store.Participant{{Client: "site-a", NumExamples: 120, Status: "accepted"}},
		Metrics:      map[string]float64{"eval_loss": 0.42},
	}
	if err := db.CommitRound(ctx, rec, store.ModelVersion{Version: 1, Round: 1, Params: []float64{0.5, -0.25}}); err != nil {
		log.Fatal(err)
	}

	last, err := db.LastCommittedRound(ctx, "demo")
	if err != nil {
		log.Fatal(err)
	}
	m, err := db.LatestModel(ctx, "demo")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("last committed round:", last)
	fmt.Println("latest model:", m.Version, m.Params)
	// Output:
	// last committed round: 1
	// latest model: 1 [0.5 -0.25]
}
