package coordinator

import (
	"context"
	"testing"

	"github.com/cohortfl/cohort/internal/offheap"
)

// TestParamsOutliveTheirRound: a download that took a reference to the
// current model keeps reading it, intact, after the next round replaced
// it; the run's release alone does not free it, the download's does.
func TestParamsOutliveTheirRound(t *testing.T) {
	e, _ := newTestEngine(t, &scripted{})
	const n = offheap.MinBytes/8 + 1
	old := make([]float64, n)
	for i := range old {
		old[i] = float64(i)
	}
	ar := &activeRun{cfg: RunConfig{RunID: "r"}}
	if err := ar.holdGlobal(old, 0); err != nil {
		t.Fatal(err)
	}
	if !ar.model.Mapped() {
		t.Skip("no mmap on this platform: nothing to unmap")
	}
	held := ar.model
	e.setActive(ar)

	p, release, err := e.Params(context.Background(), "r", 0)
	if err != nil {
		t.Fatal(err)
	}
	next, err := offheap.New(n)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	ar.setGlobal(next, 1) // the run drops its reference to version 0
	e.mu.Unlock()
	for i, v := range p {
		if v != float64(i) {
			t.Fatalf("value %d = %v after the model was replaced, want %d", i, v, i)
		}
	}
	if held.Values() == nil {
		t.Fatal("version 0 was freed while a download held it")
	}
	release()
	release() // idempotent
	if held.Values() != nil {
		t.Error("version 0 is still held after the last reference was released")
	}
	if q, rel, err := e.Params(context.Background(), "r", 1); err != nil || len(q) != n {
		t.Errorf("current version 1: %d values, %v", len(q), err)
	} else {
		rel()
	}
	e.mu.Lock()
	ar.setGlobal(nil, 1)
	e.mu.Unlock()
	if next.Values() != nil {
		t.Error("the run's end did not free its model")
	}
}
