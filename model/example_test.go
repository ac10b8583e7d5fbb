package model_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/cohortfl/cohort/model"
)

func ExampleNew() {
	hidden, err := model.ParseHidden("32,16")
	if err != nil {
		panic(err)
	}
	m, err := model.New(model.Spec{Name: model.MLP, Features: 12, Classes: 2, Hidden: hidden})
	if err != nil {
		panic(err)
	}
	// Layers 12→32, 32→16, 16→2, each (in+1)·out parameters.
	fmt.Println(m.Spec(), m.NumParams())
	// Output: mlp(12→32→16→2 relu) 978
}

func ExampleTrain() {
	// y = 1 exactly when x > 0: a separable one-feature problem.
	data := model.Examples{X: []float64{-2, -1, -0.5, 0.5, 1, 2}, Y: []int{0, 0, 0, 1, 1, 1}, N: 6, D: 1}
	m, _ := model.New(model.Spec{Name: model.LogReg, Features: 1, Classes: 2})
	rng := rand.New(rand.NewPCG(1, 2))
	params := m.Init(rng)
	cfg := model.TrainConfig{Epochs: 50, BatchSize: 2, LearningRate: 0.5}
	if _, err := model.Train(m, params, data, cfg, rng); err != nil {
		panic(err)
	}
	met, _ := model.Evaluate(m, params, data)
	fmt.Printf("accuracy %.2f, AUC %.2f\n", met.Accuracy, met.AUC)
	// Output: accuracy 1.00, AUC 1.00
}

func ExampleHistAUC() {
	// Two sites' histograms of P(class 1) over 4 bins, summed before use.
	pos := []float64{0, 1, 2, 5}
	neg := []float64{4, 3, 1, 0}
	fmt.Printf("%.4f\n", model.HistAUC(pos, neg))
	// Pairs: bin1 pos beats 4 negs (+0.5·3), bin2 beats 7 (+0.5·1), bin3 beats 8.
	// (1·5.5 + 2·7.5 + 5·8) / (8·8) = 60.5/64
	// Output: 0.9453
}
