package offheap

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestSmallVectorsStayOnTheHeap(t *testing.T) {
	f, err := New(MinBytes/8 - 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Mapped() || f.Len() != MinBytes/8-1 {
		t.Errorf("Mapped %v, Len %d; want a heap vector of %d", f.Mapped(), f.Len(), MinBytes/8-1)
	}
	f.Release()
	if f.Values() != nil {
		t.Error("Values after the last Release is not nil")
	}
	if _, err := New(-1); err == nil {
		t.Error("New(-1) succeeded")
	}
}

func TestCopyAndReferences(t *testing.T) {
	p := make([]float64, MinBytes/8+3)
	for i := range p {
		p[i] = float64(i) - 0.5
	}
	f, err := Copy(p)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && !f.Mapped() {
		t.Error("a vector of MinBytes or more is not mapped on linux")
	}
	for i, v := range f.Values() {
		if v != p[i] {
			t.Fatalf("value %d = %v, want %v", i, v, p[i])
		}
	}
	g := f.Retain()
	f.Release()
	if g.Values()[len(p)-1] != p[len(p)-1] {
		t.Fatal("the second reference lost the values")
	}
	g.Release()
	if f.Values() != nil {
		t.Error("Values after the last Release is not nil")
	}
	mustPanic(t, "Release after the last", f.Release)
	mustPanic(t, "Retain after the last Release", func() { f.Retain() })
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	fn()
}

// TestMappedMemoryIsReturned checks the reason the package exists: a mapped
// vector costs its size in resident memory once written, not before, and
// the last Release gives that memory back at once.
func TestMappedMemoryIsReturned(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/status")
	}
	const n = 64 << 20 / 8 // 64 MiB
	before := rss(t)
	f, err := New(n)
	if err != nil {
		t.Fatal(err)
	}
	if grew := rss(t) - before; grew > 8<<20 {
		t.Errorf("mapping 64 MiB made %d MiB resident before any write", grew>>20)
	}
	v := f.Values()
	for i := range v {
		v[i] = 1
	}
	written := rss(t)
	if grew := written - before; grew < 60<<20 {
		t.Errorf("writing 64 MiB made only %d MiB resident", grew>>20)
	}
	f.Release()
	if freed := written - rss(t); freed < 60<<20 {
		t.Errorf("releasing 64 MiB returned only %d MiB", freed>>20)
	}
}

// rss returns VmRSS in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS line")
	return 0
}
