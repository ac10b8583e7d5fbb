package audit

import (
	"errors"
	"fmt"
	"testing"
)

func TestReportSummary(t *testing.T) {
	probs := func(n int) []Problem {
		ps := make([]Problem, n)
		for i := range ps {
			ps[i] = Problem{Seq: int64(i + 1), Kind: ProblemEdited, Message: "kind"}
		}
		return ps
	}
	for _, tc := range []struct {
		rep  Report
		want string
	}{
		{Report{OK: true}, ""},
		{Report{Problems: probs(1)}, "seq 1: edited: kind"},
		{Report{Problems: probs(3)}, "seq 1: edited: kind; seq 2: edited: kind; seq 3: edited: kind"},
		{Report{Problems: probs(5)}, "seq 1: edited: kind; seq 2: edited: kind; seq 3: edited: kind; and 2 more"},
		{Report{Problems: probs(MaxProblems), Omitted: 10},
			fmt.Sprintf("seq 1: edited: kind; seq 2: edited: kind; seq 3: edited: kind; and %d more", MaxProblems-3+10)},
	} {
		if got := tc.rep.Summary(); got != tc.want {
			t.Errorf("Summary() = %q, want %q", got, tc.want)
		}
		err := tc.rep.Err()
		if tc.rep.OK {
			if err != nil {
				t.Errorf("Err() of an OK report = %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrTampered) || err.Error() != ErrTampered.Error()+": "+tc.want {
			t.Errorf("Err() = %v, want ErrTampered with %q", err, tc.want)
		}
	}
}
