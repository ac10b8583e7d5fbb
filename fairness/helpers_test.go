package fairness

import (
	"math"
	"math/rand/v2"
)

// applicant is one synthetic HMDA-like loan application.
type applicant struct {
	race, sex string
	income    float64 // thousands
	loan      float64 // thousands
	dti       float64 // debt-to-income
	label     int     // 1 = repaid / creditworthy
	score     float64 // model's P(label = 1)
}

// hmdaLike draws n applicants with a deliberate group effect: group
// membership shifts income (a proxy) and the model's score, and a small
// subgroup ("race=C") is rare so intersections get thin.
func hmdaLike(r *rand.Rand, n int) []applicant {
	races := []string{"A", "B", "C"}
	out := make([]applicant, n)
	for i := range out {
		var a applicant
		u := r.Float64()
		switch {
		case u < 0.6:
			a.race = races[0]
		case u < 0.93:
			a.race = races[1]
		default:
			a.race = races[2]
		}
		a.sex = "M"
		if r.Float64() < 0.45 {
			a.sex = "F"
		}
		shift := map[string]float64{"A": 0, "B": -18, "C": -8}[a.race]
		a.income = math.Max(10, 75+shift+25*r.NormFloat64())
		a.loan = math.Max(5, 2.5*a.income+40*r.NormFloat64())
		a.dti = math.Min(0.9, math.Max(0.05, 0.35+0.1*r.NormFloat64()))
		z := -1 + 0.03*a.income - 4*a.dti + 0.5*r.NormFloat64()
		p := 1 / (1 + math.Exp(-z))
		if r.Float64() < p {
			a.label = 1
		}
		// The model is miscalibrated for race=B and uses sex.
		zs := z
		if a.race == "B" {
			zs -= 0.6
		}
		if a.sex == "F" {
			zs += 0.2
		}
		a.score = 1 / (1 + math.Exp(-zs))
		out[i] = a
	}
	return out
}

func (a applicant) groups() []Group {
	return []Group{{"race", a.race}, {"sex", a.sex}}
}

// member reports whether a belongs to the intersection named by key,
// computed from the raw attributes (not through IntersectionKeys).
func (a applicant) member(gs []Group) bool {
	for _, g := range gs {
		switch g.Attr {
		case "race":
			if a.race != g.Value {
				return false
			}
		case "sex":
			if a.sex != g.Value {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func closeTo(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func sumVectors(vs ...[]float64) []float64 {
	out := make([]float64, len(vs[0]))
	for _, v := range vs {
		for i, x := range v {
			out[i] += x
		}
	}
	return out
}
