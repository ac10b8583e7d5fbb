package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/cohortfl/cohort/report"
)

func ExampleParseFormat() {
	f, err := report.ParseFormat("md")
	fmt.Println(f, err)
	_, err = report.ParseFormat("pdf")
	fmt.Println(err)
	// Output:
	// md <nil>
	// report: unknown format "pdf" (valid formats: html, md, json)
}

func ExampleFloat() {
	b, _ := json.Marshal(map[string]report.Float{"eval_accuracy": 0.91, "eval_auc": report.Float(math.NaN())})
	fmt.Println(string(b))
	var back map[string]report.Float
	_ = json.Unmarshal(b, &back)
	fmt.Println(math.IsNaN(float64(back["eval_auc"])))
	// Output:
	// {"eval_accuracy":0.91,"eval_auc":null}
	// true
}

func ExampleRender() {
	d := report.Data{
		Summary: report.Summary{RunID: "run-7", State: "completed", RoundsCompleted: 2, RoundsTotal: 2, DPMode: "none"},
		Rounds: []report.Round{
			{Round: 1, Status: report.RoundCommitted, Accepted: 3, Selected: 3,
				Metrics: report.FloatMap(map[string]float64{"eval_accuracy": 0.81, "eval_auc": math.NaN()})},
			{Round: 2, Status: report.RoundCommitted, Accepted: 3, Selected: 3,
				Metrics: report.FloatMap(map[string]float64{"eval_accuracy": 0.84, "eval_auc": 0.9})},
		},
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, d, report.Markdown); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// Print the rounds section.
	md := buf.String()
	md = md[strings.Index(md, "## Rounds"):strings.Index(md, "## Participation")]
	fmt.Print(md)
	// Output:
	// ## Rounds
	//
	// | Round | Attempt | Status | Accepted/selected | Duration | eval\_accuracy | eval\_auc |
	// | ---: | ---: | --- | ---: | ---: | ---: | ---: |
	// | 1 | 0 | committed ✓ | 3/3 | n/a | 0.81 | n/a |
	// | 2 | 0 | committed ✓ | 3/3 | n/a | 0.84 | 0.9 |
}
