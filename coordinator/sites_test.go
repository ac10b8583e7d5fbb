package coordinator

import (
	"reflect"
	"testing"
)

// The registry reports the connected count on every change, replaces a
// site's older stream with its newer one, and drops tasks for absent sites.
func TestRegistryCountsAndReplaces(t *testing.T) {
	var counts []int
	var gone []string
	r := NewRegistry(func(s string) { gone = append(gone, s) })
	r.OnCount = func(n int) { counts = append(counts, n) }
	_, detachA := r.attach("a", 10)
	_, detachB1 := r.attach("b", 5)
	tasksB2, detachB2 := r.attach("b", 5) // reconnect: replaces the first stream
	if got := r.Connected(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("Connected = %v, want [a b]", got)
	}
	detachB1() // the replaced stream ends: b stays connected
	if err := r.Dispatch("b", Task{RunID: "r"}); err != nil {
		t.Fatalf("Dispatch to b after its old stream ended: %v", err)
	}
	if tk := <-tasksB2; tk.RunID != "r" {
		t.Fatalf("task went to the wrong stream: %+v", tk)
	}
	detachA()
	detachB2()
	if err := r.Dispatch("a", Task{}); err == nil {
		t.Fatal("Dispatch to a disconnected site succeeded")
	}
	if want := []int{1, 2, 2, 1, 0}; !reflect.DeepEqual(counts, want) {
		t.Fatalf("counts = %v, want %v", counts, want)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(gone, want) {
		t.Fatalf("gone = %v, want %v (only real disconnects)", gone, want)
	}
}
