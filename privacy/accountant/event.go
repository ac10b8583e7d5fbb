package accountant

import (
	"fmt"
	"math"
)

// Event is Steps applications of the Poisson-subsampled Gaussian mechanism:
// each record is included independently with probability Q, the clipped
// (L2 sensitivity 1) sum is released with N(0, Sigma²) noise per coordinate.
// Sigma is the noise multiplier (noise standard deviation divided by the
// clipping norm). Adjacency is add/remove one record.
type Event struct {
	Q     float64 // sampling probability, in [0, 1]
	Sigma float64 // noise multiplier, finite and > 0
	Steps int     // number of compositions, >= 0
}

// Accountant converts a sequence of events into an (ε, δ) guarantee.
//
// Contract for implementations in this package:
//   - They are safe for concurrent use by multiple goroutines.
//   - Results are deterministic: the same events (in any order) and the
//     same argument give the same result.
//   - They do not retain or modify the events slice.
//   - Results are upper bounds on the true privacy curve (pessimistic),
//     up to floating-point rounding.
//   - Invalid input yields an error wrapping ErrInvalidInput and a zero
//     value; they never panic on bad input.
//
// Epsilon returns the smallest ε (≥ 0) the accountant can certify for the
// composition of events at the given δ ∈ (0,1); it returns +Inf (and a nil
// error) when no finite ε can be certified. Delta returns the smallest δ it
// can certify at the given ε ≥ 0.
type Accountant interface {
	Epsilon(events []Event, delta float64) (float64, error)
	Delta(events []Event, eps float64) (float64, error)
}

// mechanism identifies one (q, σ) pair; events with equal mechanisms are
// grouped so that their steps add up.
type mechanism struct {
	q, sigma float64
}

// group is a mechanism applied count times.
type group struct {
	mechanism
	count int
}

// validateEvents checks every event and groups identical (q, σ) pairs,
// dropping events that leak nothing (q = 0 or steps = 0). The order of the
// returned groups is the order of first appearance, so results do not depend
// on map iteration order.
func validateEvents(op string, events []Event) ([]group, error) {
	idx := make(map[mechanism]int)
	var groups []group
	for i, e := range events {
		// Format parameter names only on failure: this loop runs for
		// every event of long compositions.
		if math.IsNaN(e.Q) || e.Q < 0 || e.Q > 1 {
			return nil, checkQ(op, fmt.Sprintf("events[%d].Q", i), e.Q)
		}
		if math.IsNaN(e.Sigma) || math.IsInf(e.Sigma, 0) || e.Sigma <= 0 {
			return nil, checkSigma(op, fmt.Sprintf("events[%d].Sigma", i), e.Sigma)
		}
		if e.Steps < 0 || e.Steps > maxSteps {
			return nil, checkSteps(op, fmt.Sprintf("events[%d].Steps", i), e.Steps)
		}
		if e.Q == 0 || e.Steps == 0 {
			continue
		}
		m := mechanism{e.Q, e.Sigma}
		if j, ok := idx[m]; ok {
			if groups[j].count > maxSteps-e.Steps {
				return nil, &InputError{Op: op, Param: fmt.Sprintf("events[%d].Steps", i),
					Value: float64(e.Steps), Want: fmt.Sprintf("total steps per (q, σ) <= %d", maxSteps)}
			}
			groups[j].count += e.Steps
			continue
		}
		idx[m] = len(groups)
		groups = append(groups, group{m, e.Steps})
	}
	return groups, nil
}

// maxSteps bounds the total number of compositions of one mechanism so that
// sums of steps cannot overflow.
const maxSteps = 1 << 40
