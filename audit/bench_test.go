package audit

import (
	"context"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	tl := openTest(b)
	e := benchEvent(0)
	for b.Loop() {
		if _, err := tl.log.Append(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

func BenchmarkAppendBatch(b *testing.B) {
	ctx := context.Background()
	tl := openTest(b)
	events := make([]Event, BenchBatchSize)
	for i := range events {
		events[i] = benchEvent(i)
	}
	for b.Loop() {
		if _, err := tl.log.AppendBatch(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "appends/s")
}

func BenchmarkVerify100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	tl := openTest(b)
	events := make([]Event, BenchBatchSize)
	for i := 0; i < n; i += len(events) {
		for j := range events {
			events[j] = benchEvent(i + j)
		}
		if _, err := tl.log.AppendBatch(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		rep, err := tl.log.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != n {
			b.Fatalf("Verify = %d entries, OK %v, %v", rep.Entries, rep.OK, err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
}

func TestBench(t *testing.T) {
	const n = 1500
	r, err := Bench(context.Background(), t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.Events != n || r.SingleEvents != min(n, BenchSingleMax) || r.Verified != r.SingleEvents+n || r.BatchSize != BenchBatchSize {
		t.Errorf("Bench sizes = %+v", r)
	}
	for name, v := range map[string]float64{
		"append/s": r.AppendPerSec, "batch append/s": r.BatchAppendPerSec, "verify/s": r.VerifyPerSec,
		"plain insert/s": r.PlainInsertPerSec, "plain batch/s": r.PlainBatchInsertPerSec, "plain scan/s": r.PlainScanPerSec,
		"append cost": r.AppendCost, "batch cost": r.BatchAppendCost, "verify cost": r.VerifyCost,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v; want > 0", name, v)
		}
	}
	if _, err := Bench(context.Background(), t.TempDir(), 0); err == nil {
		t.Error("Bench(n = 0) succeeded")
	}
}
