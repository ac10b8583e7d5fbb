package model

import (
	"math"
	"testing"
)

// bruteAUC counts positive–negative pairs directly: 1 if the positive scores
// higher, 1/2 on a tie.
func bruteAUC(scores []float64, labels []int) float64 {
	var num, pairs float64
	for i := range scores {
		for j := range scores {
			if labels[i] != 1 || labels[j] != 0 {
				continue
			}
			pairs++
			switch {
			case scores[i] > scores[j]:
				num++
			case scores[i] == scores[j]:
				num += 0.5
			}
		}
	}
	return num / pairs
}

func TestExactAUCMatchesBruteForce(t *testing.T) {
	rng := newRNG(41)
	for trial := 0; trial < 20; trial++ {
		n := 2 + rng.IntN(300)
		scores := make([]float64, n)
		labels := make([]int, n)
		for i := range scores {
			labels[i] = rng.IntN(2)
			// Rounding to one decimal forces many ties; the label shifts the
			// distribution so the AUC is not trivially 1/2.
			scores[i] = math.Round((rng.Float64()+0.3*float64(labels[i]))*10) / 10
		}
		labels[0], labels[1] = 0, 1 // both classes present
		got, want := ExactAUC(scores, labels), bruteAUC(scores, labels)
		// Rank sums are exact half-integers in float64; only the final
		// division rounds.
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d (n=%d): ExactAUC = %v, brute force = %v", trial, n, got, want)
		}
	}
}

func TestAUCEdgeCases(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name   string
		scores []float64
		labels []int
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []int{0, 0, 1, 1}, 1},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []int{0, 0, 1, 1}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []int{0, 1, 0, 1}, 0.5},
		{"one class", []float64{0.1, 0.2}, []int{1, 1}, nan},
		{"bad label", []float64{0.1, 0.2}, []int{0, 2}, nan},
		{"NaN score", []float64{nan, 0.2}, []int{0, 1}, nan},
		{"length mismatch", []float64{0.1}, []int{0, 1}, nan},
	}
	for _, c := range cases {
		got := ExactAUC(c.scores, c.labels)
		if math.IsNaN(c.want) != math.IsNaN(got) || (!math.IsNaN(c.want) && got != c.want) {
			t.Errorf("ExactAUC(%s) = %v, want %v", c.name, got, c.want)
		}
	}
	if got := HistAUC([]float64{0, 0, 3}, []float64{2, 1, 0}); got != 1 {
		t.Errorf("HistAUC(separated) = %v, want 1", got)
	}
	if got := HistAUC([]float64{1, 1}, []float64{1, 1}); got != 0.5 {
		t.Errorf("HistAUC(identical) = %v, want 0.5", got)
	}
	for _, bad := range [][2][]float64{{{1}, {1, 2}}, {{0, 0}, {1, 1}}, {{-1, 2}, {1, 1}}, {{1, math.Inf(1)}, {1, 1}}} {
		if got := HistAUC(bad[0], bad[1]); !math.IsNaN(got) {
			t.Errorf("HistAUC(%v, %v) = %v, want NaN", bad[0], bad[1], got)
		}
	}
}

func TestHistAUCIsExactAUCOfBinnedScores(t *testing.T) {
	rng := newRNG(42)
	const n = 2000
	scores := make([]float64, n)
	labels := make([]int, n)
	for i := range scores {
		labels[i] = rng.IntN(2)
		z := rng.NormFloat64() + float64(labels[i])
		scores[i] = 1 / (1 + math.Exp(-z))
	}
	exact := ExactAUC(scores, labels)
	var np, nn float64
	for _, y := range labels {
		if y == 1 {
			np++
		} else {
			nn++
		}
	}
	for _, bins := range []int{4, 100, 1 << 16} {
		pos, neg := make([]float64, bins), make([]float64, bins)
		binned := make([]float64, n)
		for i, s := range scores {
			b := min(int(s*float64(bins)), bins-1)
			binned[i] = float64(b)
			if labels[i] == 1 {
				pos[b]++
			} else {
				neg[b]++
			}
		}
		h := HistAUC(pos, neg)
		// Identity: the histogram AUC is the exact AUC of the bin indices.
		if e := ExactAUC(binned, labels); math.Abs(h-e) > 1e-12 {
			t.Errorf("bins=%d: HistAUC %v != ExactAUC(bin index) %v", bins, h, e)
		}
		// Only pairs sharing a bin can differ, each by at most 1/2.
		shared := 0.0
		for b := range pos {
			shared += pos[b] * neg[b]
		}
		if bound := 0.5 * shared / (np * nn); math.Abs(h-exact) > bound+1e-12 {
			t.Errorf("bins=%d: |HistAUC − ExactAUC| = %v exceeds shared-bin bound %v", bins, math.Abs(h-exact), bound)
		}
		if bins == 1<<16 && math.Abs(h-exact) > 1e-3 {
			t.Errorf("fine bins: HistAUC %v far from ExactAUC %v", h, exact)
		}
	}
}

func TestEvaluateAndCountsAgree(t *testing.T) {
	rng := newRNG(43)
	m := mustNew(t, Spec{Name: LogReg, Features: 4, Classes: 2})
	data := linearExamples(rng, 300, []float64{1, -1, 2, 0}, 0.2)
	data.W = make([]float64, data.N) // weights must be ignored by evaluation
	for i := range data.W {
		data.W[i] = rng.Float64() * 3
	}
	params := []float64{0.8, -1.2, 1.5, 0.1, 0.3}
	met, err := Evaluate(m, params, data)
	if err != nil {
		t.Fatal(err)
	}
	// Independent recomputation with the naive formulas.
	correct, loss := 0, 0.0
	scores := make([]float64, data.N)
	for i := 0; i < data.N; i++ {
		x := data.Row(i)
		z := params[4]
		for j := 0; j < 4; j++ {
			z += params[j] * x[j]
		}
		p := 1 / (1 + math.Exp(-z))
		scores[i] = p
		if (p > 0.5) == (data.Y[i] == 1) {
			correct++
		}
		if data.Y[i] == 1 {
			loss -= math.Log(p)
		} else {
			loss -= math.Log(1 - p)
		}
	}
	if met.N != data.N || met.Accuracy != float64(correct)/float64(data.N) {
		t.Errorf("Evaluate = %+v, want accuracy %v", met, float64(correct)/float64(data.N))
	}
	if math.Abs(met.Loss-loss/float64(data.N)) > 1e-12 {
		t.Errorf("Loss = %v, want %v", met.Loss, loss/float64(data.N))
	}
	if met.AUC != bruteAUC(scores, data.Y) && math.Abs(met.AUC-bruteAUC(scores, data.Y)) > 1e-12 {
		t.Errorf("AUC = %v, want %v", met.AUC, bruteAUC(scores, data.Y))
	}

	// Federated: Counts over three shards, summed, equal Counts over the union.
	const bins = 50
	whole, err := EvalCounts(m, params, data, bins)
	if err != nil {
		t.Fatal(err)
	}
	var sum Counts
	for _, r := range [][2]int{{0, 70}, {70, 71}, {71, 300}} {
		shard := data.Subset(allRows(data.N)[r[0]:r[1]])
		c, err := EvalCounts(m, params, shard, bins)
		if err != nil {
			t.Fatal(err)
		}
		if err := sum.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if sum.N != whole.N || sum.Correct != whole.Correct || math.Abs(sum.LossSum-whole.LossSum) > 1e-9 {
		t.Errorf("summed counts %+v != whole %+v", sum, whole)
	}
	for b := 0; b < bins; b++ {
		if sum.PosHist[b] != whole.PosHist[b] || sum.NegHist[b] != whole.NegHist[b] {
			t.Fatalf("bin %d: summed (%v,%v) != whole (%v,%v)", b, sum.PosHist[b], sum.NegHist[b], whole.PosHist[b], whole.NegHist[b])
		}
	}
	if sum.Accuracy() != met.Accuracy || math.Abs(sum.Loss()-met.Loss) > 1e-12 {
		t.Errorf("counts accuracy/loss %v/%v, Evaluate %v/%v", sum.Accuracy(), sum.Loss(), met.Accuracy, met.Loss)
	}
	if a := sum.AUC(); math.IsNaN(a) || math.Abs(a-met.AUC) > 0.05 {
		t.Errorf("50-bin AUC %v far from exact %v", a, met.AUC)
	}
	if err := sum.Add(Counts{N: 1, PosHist: make([]float64, 3), NegHist: make([]float64, 3)}); err == nil {
		t.Error("Add accepted counts with a different number of bins")
	}
}

func TestEvaluateMultiClassAndBadInput(t *testing.T) {
	m := mustNew(t, Spec{Name: Softmax, Features: 2, Classes: 3})
	data := randomExamples(newRNG(44), 30, 2, 3, false)
	met, err := Evaluate(m, m.Init(nil), data)
	if err != nil {
		t.Fatal(err)
	}
	// Zero parameters predict uniformly: loss log 3, arg-max class 0.
	zeros := 0
	for _, y := range data.Y {
		if y == 0 {
			zeros++
		}
	}
	if math.Abs(met.Loss-math.Log(3)) > 1e-12 || met.Accuracy != float64(zeros)/30 || !math.IsNaN(met.AUC) {
		t.Errorf("Evaluate(uniform softmax) = %+v", met)
	}
	c, err := EvalCounts(m, m.Init(nil), data, 10)
	if err != nil || c.PosHist != nil || !math.IsNaN(c.AUC()) {
		t.Errorf("EvalCounts multi-class = %+v, %v", c, err)
	}
	if _, err := EvalCounts(m, m.Init(nil), data, 0); err == nil {
		t.Error("EvalCounts accepted 0 bins")
	}
	if _, err := Evaluate(m, []float64{1}, data); err == nil {
		t.Error("Evaluate accepted a short parameter vector")
	}
	empty, err := Evaluate(m, m.Init(nil), Examples{D: 2})
	if err != nil || empty.N != 0 || !math.IsNaN(empty.Loss) {
		t.Errorf("Evaluate(empty) = %+v, %v", empty, err)
	}
}
