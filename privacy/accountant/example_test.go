package accountant_test

import (
	"fmt"

	"github.com/cohortfl/cohort/privacy/accountant"
)

// DP-SGD on MNIST: batch 256 of 60,000, σ = 1.1, 60 epochs.
func Example() {
	events := []accountant.Event{{Q: 256.0 / 60000, Sigma: 1.1, Steps: 14063}}

	rdp, err := accountant.NewRDP(nil)
	if err != nil {
		panic(err)
	}
	pld, err := accountant.NewPLD(accountant.DefaultPLDConfig())
	if err != nil {
		panic(err)
	}
	for _, acc := range []struct {
		name string
		a    accountant.Accountant
	}{{"RDP", rdp}, {"PLD", pld}} {
		eps, err := acc.a.Epsilon(events, 1e-5)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s ε = %.2f\n", acc.name, eps)
	}
	// Output:
	// RDP ε = 2.60
	// PLD ε = 2.38
}

// Find the smallest noise multiplier for a target budget.
func ExampleSigmaFor() {
	rdp, err := accountant.NewRDP(nil)
	if err != nil {
		panic(err)
	}
	sigma, err := accountant.SigmaFor(rdp, 0.01, 5000, 1.0, 1e-5)
	if err != nil {
		panic(err)
	}
	eps, err := rdp.Epsilon([]accountant.Event{{Q: 0.01, Sigma: sigma, Steps: 5000}}, 1e-5)
	if err != nil {
		panic(err)
	}
	fmt.Println("meets target:", eps <= 1.0)
	// Output:
	// meets target: true
}
