package coordinator

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestRound(t *testing.T, min int) *Round {
	t.Helper()
	r, err := NewRound("run", 3, 0, PhaseFit, []string{"a", "b", "c"}, [][]byte{{1}, {2}, {3}}, t0.Add(time.Minute), min)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoundBeginChecks(t *testing.T) {
	cases := []struct {
		name      string
		site, run string
		round     int
		nonce     []byte
		at        time.Time
		want      error
	}{
		{"ok", "a", "run", 3, []byte{1}, t0, nil},
		{"other run", "a", "other", 3, []byte{1}, t0, ErrWrongRound},
		{"closed round number (replay)", "a", "run", 2, []byte{1}, t0, ErrWrongRound},
		{"not selected", "z", "run", 3, []byte{1}, t0, ErrNotSelected},
		{"nonce of another site", "a", "run", 3, []byte{2}, t0, ErrBadNonce},
		{"late", "a", "run", 3, []byte{1}, t0.Add(2 * time.Minute), ErrLate},
	}
	for _, c := range cases {
		r := newTestRound(t, 1)
		err := r.Begin(c.site, c.run, c.round, c.nonce, c.at)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: Begin = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRoundLifecycle(t *testing.T) {
	r := newTestRound(t, 2)
	if err := r.Begin("a", "run", 3, []byte{1}, t0); err != nil {
		t.Fatal(err)
	}
	if err := r.Begin("a", "run", 3, []byte{1}, t0); !errors.Is(err, ErrAlreadySent) {
		t.Fatalf("second Begin = %v, want ErrAlreadySent", err)
	}
	if err := r.Accept("a", t0); err != nil {
		t.Fatal(err)
	}
	if err := r.Begin("b", "run", 3, []byte{2}, t0); err != nil {
		t.Fatal(err)
	}
	r.Reject("b", "NaN in update")
	if r.Settled() {
		t.Fatal("round settled with c still pending")
	}
	r.Drop("c", "disconnected")
	if !r.Settled() {
		t.Fatal("round not settled after every site has a final state")
	}
	err := r.Close(t0)
	if !errors.Is(err, ErrTooFewClient) {
		t.Fatalf("Close with 1 accepted of min 2 = %v, want ErrTooFewClient", err)
	}
	if err := r.Begin("c", "run", 3, []byte{3}, t0); !errors.Is(err, ErrRoundClosed) {
		t.Fatalf("Begin after Close = %v, want ErrRoundClosed", err)
	}
	got := map[string]SlotState{}
	for _, s := range r.Slots() {
		got[s.Site] = s.State
	}
	want := map[string]SlotState{"a": SlotAccepted, "b": SlotRejected, "c": SlotDropped}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("slot %s = %v, want %v", k, got[k], v)
		}
	}
}

func TestRoundCloseDropsActiveAndSucceedsAtMin(t *testing.T) {
	r := newTestRound(t, 1)
	_ = r.Begin("a", "run", 3, []byte{1}, t0)
	_ = r.Accept("a", t0)
	_ = r.Begin("b", "run", 3, []byte{2}, t0) // still uploading at the deadline
	if err := r.Close(t0.Add(time.Minute)); err != nil {
		t.Fatalf("Close with 1 accepted of min 1 = %v", err)
	}
	if err := r.Accept("b", t0); err == nil {
		t.Fatal("Accept after Close succeeded; a late result would be counted")
	}
	if n := r.Count(SlotDropped); n != 2 {
		t.Fatalf("dropped = %d, want 2 (b active, c pending)", n)
	}
}

func TestSelectCohort(t *testing.T) {
	sites := []string{"e", "d", "c", "b", "a"}
	got, err := SelectCohort(sites, 0.4, 1, 7, 1, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("SelectCohort(0.4 of 5) = %v, %v; want 2 sites", got, err)
	}
	again, _ := SelectCohort([]string{"a", "b", "c", "d", "e"}, 0.4, 1, 7, 1, 0)
	if got[0] != again[0] || got[1] != again[1] {
		t.Fatalf("selection depends on input order: %v vs %v", got, again)
	}
	if g, _ := SelectCohort(sites, 0.2, 3, 7, 1, 0); len(g) != 3 {
		t.Fatalf("min clients not honoured: %v", g)
	}
	if g, _ := SelectCohort(sites[:2], 0.5, 3, 7, 1, 0); len(g) != 2 {
		t.Fatalf("more selected than available: %v", g)
	}
	// Over many rounds every site is selected about fraction of the time.
	counts := map[string]int{}
	for r := 1; r <= 2000; r++ {
		g, _ := SelectCohort(sites, 0.4, 1, 7, r, 0)
		for _, s := range g {
			counts[s]++
		}
	}
	// Each site is chosen with probability 2/5; sd of the count is sqrt(2000·0.4·0.6) ≈ 22, so ±5 sd = ±110.
	for _, s := range sites {
		if c := counts[s]; c < 800-110 || c > 800+110 {
			t.Errorf("site %s selected %d times in 2000 rounds, want 800 ± 110", s, c)
		}
	}
	if _, err := SelectCohort(sites, 0, 1, 7, 1, 0); err == nil {
		t.Error("fraction 0 accepted")
	}
}
