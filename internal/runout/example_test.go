package runout_test

import (
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/cohortfl/cohort/internal/runout"
)

func ExampleWriteAll() {
	dir, err := os.MkdirTemp("", "runout-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	rounds := []runout.RoundMetrics{
		{Round: 1, Clients: 4, TrainLoss: 0.69, EvalLoss: 0.68, EvalAccuracy: 0.55, EvalAUC: 0.6, Epsilon: math.NaN(), DurationSeconds: 0.5},
		{Round: 2, Clients: 4, TrainLoss: 0.52, EvalLoss: 0.54, EvalAccuracy: 0.74, EvalAUC: 0.8, Epsilon: math.NaN(), DurationSeconds: 0.5},
	}
	if err := runout.WriteAll(dir, rounds, "example"); err != nil {
		log.Fatal(err)
	}
	csvData, _ := os.ReadFile(filepath.Join(dir, runout.CSVFile))
	fmt.Print(string(csvData))
	// Output:
	// round,clients,train_loss,eval_loss,eval_accuracy,eval_auc,epsilon,duration_seconds
	// 1,4,0.69,0.68,0.55,0.6,NaN,0.5
	// 2,4,0.52,0.54,0.74,0.8,NaN,0.5
}
