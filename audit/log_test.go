package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cohortfl/cohort/coordinator/store"
)

// t0 is the start of the test clock.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// stepClock returns a clock that advances by one second per reading.
func stepClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

type testLog struct {
	path string
	db   *store.DB
	log  *Log
}

func openTest(t testing.TB) *testLog {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cohort.db")
	tl := &testLog{path: path}
	tl.reopen(t)
	return tl
}

// reopen opens the file again, as a restarted coordinator or an auditor would.
func (tl *testLog) reopen(t testing.TB) {
	t.Helper()
	db, err := store.Open(tl.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := Open(context.Background(), db, WithClock(stepClock()))
	if err != nil {
		t.Fatal(err)
	}
	tl.db, tl.log = db, l
}

func ev(kind, actor string, round int, detail string) Event {
	return Event{Kind: kind, RunID: "run-1", Round: round, Actor: actor, Subject: "s", Detail: json.RawMessage(detail)}
}

// fill appends n events: round i/3+1, actors site-0..2, a small Detail.
func fill(t testing.TB, l *Log, n int) []Event {
	t.Helper()
	events := make([]Event, n)
	for i := range events {
		events[i] = ev(KindUpdateReceived, fmt.Sprintf("site-%d", i%3), i/3+1, fmt.Sprintf(`{"i": %d, "ok": true}`, i))
	}
	out, err := l.AppendBatch(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendAssignsSeqTimeAndChain(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	var prev [32]byte
	for i := 1; i <= 3; i++ {
		got, err := tl.log.Append(ctx, ev(KindRoundStarted, ActorCoordinator, i, ` { "sites" : ["a", "b"] } `))
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != int64(i) {
			t.Errorf("entry %d: Seq = %d", i, got.Seq)
		}
		if want := t0.Add(time.Duration(i) * time.Second); !got.Time.Equal(want) || got.Time.Location() != time.UTC {
			t.Errorf("entry %d: Time = %v, want %v in UTC", i, got.Time, want)
		}
		if got.PrevHash != prev {
			t.Errorf("entry %d: PrevHash = %x, want the previous Hash %x", i, got.PrevHash, prev)
		}
		if got.Hash == ([32]byte{}) || got.Hash == prev {
			t.Errorf("entry %d: Hash = %x", i, got.Hash)
		}
		if string(got.Detail) != `{"sites":["a","b"]}` {
			t.Errorf("entry %d: Detail = %s, want it compacted", i, got.Detail)
		}
		prev = got.Hash
	}
	head, err := tl.log.Head(ctx)
	if err != nil || head != (Anchor{Seq: 3, Hash: prev}) {
		t.Fatalf("Head = %v, %v; want 3:%x", head, err, prev)
	}

	// What List reads back after a restart is exactly what Append returned.
	tl.reopen(t)
	all, err := tl.log.List(ctx, Filter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("List = %d entries, %v; want 3", len(all), err)
	}
	if all[2].Hash != prev || !all[2].Time.Equal(t0.Add(3*time.Second)) || string(all[2].Detail) != `{"sites":["a","b"]}` {
		t.Errorf("List()[2] = %+v", all[2])
	}
	rep, err := tl.log.Verify(ctx)
	if err != nil || !rep.OK || rep.Entries != 3 || rep.Head != head {
		t.Fatalf("Verify = %+v, %v; want OK with 3 entries and head %v", rep, err, head)
	}
}

func TestEmptyLog(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	head, err := tl.log.Head(ctx)
	if err != nil || head != (Anchor{}) {
		t.Fatalf("Head of an empty log = %v, %v; want the zero anchor", head, err)
	}
	rep, err := tl.log.Verify(ctx)
	if err != nil || !rep.OK || rep.Entries != 0 {
		t.Fatalf("Verify of an empty log = %+v, %v", rep, err)
	}
	if rep, err := tl.log.VerifyAgainst(ctx, Anchor{}); err != nil || !rep.OK {
		t.Fatalf("VerifyAgainst(zero anchor) of an empty log = %+v, %v", rep, err)
	}
	if out, err := tl.log.AppendBatch(ctx, nil); err != nil || out != nil {
		t.Fatalf("AppendBatch(nil) = %v, %v", out, err)
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	fill(t, tl.log, 2)
	if _, err := Open(ctx, tl.db); err != nil {
		t.Fatalf("second Open on the same DB: %v", err)
	}
	v, err := tl.db.SchemaVersion(ctx, "audit")
	if err != nil || v != len(migrations) {
		t.Fatalf("schema version = %d, %v; want %d", v, err, len(migrations))
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	events := []Event{
		{Kind: KindRunStarted, RunID: "a", Actor: ActorCoordinator},
		{Kind: KindSiteJoined, RunID: "a", Actor: "site-1"},
		{Kind: KindSiteJoined, RunID: "b", Actor: "site-2"},
		{Kind: KindRoleDenied, Actor: "CN=mallory"},
		{Kind: KindSiteJoined, RunID: "a", Actor: "site-2"},
	}
	if _, err := tl.log.AppendBatch(ctx, events); err != nil {
		t.Fatal(err)
	}
	// Entry i was appended at t0 + i s.
	for _, c := range []struct {
		name string
		f    Filter
		want []int64
	}{
		{"all", Filter{}, []int64{1, 2, 3, 4, 5}},
		{"run", Filter{RunID: "a"}, []int64{1, 2, 5}},
		{"kind", Filter{Kind: KindSiteJoined}, []int64{2, 3, 5}},
		{"run and kind", Filter{RunID: "a", Kind: KindSiteJoined}, []int64{2, 5}},
		{"actor", Filter{Actor: "site-2"}, []int64{3, 5}},
		{"after", Filter{AfterSeq: 3}, []int64{4, 5}},
		{"since", Filter{Since: t0.Add(4 * time.Second)}, []int64{4, 5}},
		{"until", Filter{Until: t0.Add(3 * time.Second)}, []int64{1, 2}},
		{"since in another zone", Filter{Since: t0.Add(4 * time.Second).In(time.FixedZone("X", 5*3600))}, []int64{4, 5}},
		{"limit", Filter{Kind: KindSiteJoined, Limit: 2}, []int64{2, 3}},
		{"none", Filter{RunID: "zzz"}, nil},
	} {
		got, err := tl.log.List(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var seqs []int64
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(c.want) {
			t.Errorf("List(%s) seqs = %v, want %v", c.name, seqs, c.want)
		}
	}
	if _, err := tl.log.List(ctx, Filter{Limit: -1}); err == nil {
		t.Error("List(Limit: -1) succeeded")
	}
}

func TestAppendBatchIsAtomic(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	fill(t, tl.log, 2)
	bad := []Event{ev(KindLedgerEntry, "x", 1, `{}`), ev(KindLedgerEntry, "x", 1, `[1]`)}
	if _, err := tl.log.AppendBatch(ctx, bad); !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), "event 1 of 2") {
		t.Fatalf("AppendBatch with a bad second event = %v; want ErrInvalidEvent naming event 1 of 2", err)
	}
	out := fill(t, tl.log, 3)
	if out[0].Seq != 3 || out[2].Seq != 5 {
		t.Fatalf("batch after a refused one has seqs %d..%d, want 3..5", out[0].Seq, out[2].Seq)
	}
	for i := 1; i < len(out); i++ {
		if out[i].PrevHash != out[i-1].Hash {
			t.Fatalf("batch entry %d does not link to entry %d", out[i].Seq, out[i-1].Seq)
		}
	}
	if rep, err := tl.log.Verify(ctx); err != nil || !rep.OK || rep.Entries != 5 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// An audit entry written with AppendTx commits and rolls back with the
// caller's own change.
func TestAppendTx(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	if _, err := tl.db.SQL().ExecContext(ctx, `CREATE TABLE gate (model INTEGER PRIMARY KEY, passed INTEGER)`); err != nil {
		t.Fatal(err)
	}
	decide := func(model int, fail bool) error {
		return tl.db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gate VALUES (?, 1)`, model); err != nil {
				return err
			}
			for range 2 {
				if _, err := tl.log.AppendTx(ctx, tx, Event{Kind: KindGateDecision, RunID: "r", Actor: ActorCoordinator,
					Subject: fmt.Sprintf("model/%d", model), Detail: json.RawMessage(`{"passed":true}`)}); err != nil {
					return err
				}
			}
			if fail {
				return errors.New("crash before commit")
			}
			return nil
		})
	}
	if err := decide(1, false); err != nil {
		t.Fatal(err)
	}
	if err := decide(2, true); err == nil {
		t.Fatal("failing transaction committed")
	}
	if err := decide(3, false); err != nil {
		t.Fatal(err)
	}
	got, err := tl.log.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, e := range got {
		subjects = append(subjects, fmt.Sprintf("%d:%s", e.Seq, e.Subject))
	}
	if want := "[1:model/1 2:model/1 3:model/3 4:model/3]"; fmt.Sprint(subjects) != want {
		t.Fatalf("entries = %v, want %s (the rolled-back decision leaves no entry and no gap)", subjects, want)
	}
	if rep, err := tl.log.Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if _, err := tl.log.AppendTx(ctx, nil, Event{Kind: "Bad Kind", Actor: "x"}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("AppendTx of an invalid event = %v; want ErrInvalidEvent before touching the transaction", err)
	}
}

// Many goroutines appending at once still build one chain: seqs 1..N with
// no gap, every event present once, and Verify passes.
func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				if i%5 == 4 {
					_, err = tl.log.AppendBatch(ctx, []Event{ev(KindLedgerEntry, fmt.Sprintf("w%d", w), i, `{"batch":1}`)})
				} else {
					_, err = tl.log.Append(ctx, ev(KindLedgerEntry, fmt.Sprintf("w%d", w), i, ""))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := tl.log.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != workers*each {
		t.Fatalf("%d entries, want %d", len(all), workers*each)
	}
	seen := map[string]bool{}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i+1, e.Seq)
		}
		if i > 0 && e.PrevHash != all[i-1].Hash {
			t.Fatalf("entry %d does not link to entry %d", e.Seq, e.Seq-1)
		}
		key := fmt.Sprintf("%s/%d", e.Actor, e.Round)
		if seen[key] {
			t.Fatalf("event %s recorded twice", key)
		}
		seen[key] = true
	}
	rep, err := tl.log.Verify(ctx)
	if err != nil || !rep.OK || rep.Entries != workers*each {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestInvalidEvents(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	ok := ev(KindAdminAction, "CN=alice", 0, `{"action":"enrol","site":"site-9"}`)
	for _, c := range []struct {
		name  string
		edit  func(*Event)
		field string
		msg   string
	}{
		{"detail not JSON", func(e *Event) { e.Detail = json.RawMessage(`{"a":`) }, "detail", "not valid JSON"},
		{"detail trailing garbage", func(e *Event) { e.Detail = json.RawMessage(`{"a":1} x`) }, "detail", "not valid JSON"},
		{"detail array", func(e *Event) { e.Detail = json.RawMessage(`[1,2]`) }, "detail", "JSON array, want an object"},
		{"detail string", func(e *Event) { e.Detail = json.RawMessage(`"x"`) }, "detail", "JSON string, want an object"},
		{"detail null", func(e *Event) { e.Detail = json.RawMessage(`null`) }, "detail", "JSON null, want an object"},
		{"detail number", func(e *Event) { e.Detail = json.RawMessage(`12`) }, "detail", "JSON number, want an object"},
		{"detail too large", func(e *Event) {
			e.Detail = json.RawMessage(`{"x":"` + strings.Repeat("a", MaxDetailBytes) + `"}`)
		}, "detail", "more than"},
		{"detail secret key", func(e *Event) { e.Detail = json.RawMessage(`{"site":"a","Secret_Key":"00ff"}`) }, "detail", `"Secret_Key" looks like a secret`},
		{"detail nested private key", func(e *Event) { e.Detail = json.RawMessage(`{"site":{"keys":[{"private-key":"x"}]}}`) }, "detail", "looks like a secret"},
		{"detail escaped password key", func(e *Event) { e.Detail = json.RawMessage(`{"pass\u0077ord":"x"}`) }, "detail", `"password" looks like a secret`},
		{"empty kind", func(e *Event) { e.Kind = "" }, "kind", "empty"},
		{"kind with space", func(e *Event) { e.Kind = "site joined" }, "kind", "snake_case"},
		{"kind upper case", func(e *Event) { e.Kind = "SiteJoined" }, "kind", "snake_case"},
		{"kind starting with digit", func(e *Event) { e.Kind = "1x" }, "kind", "snake_case"},
		{"empty actor", func(e *Event) { e.Actor = "" }, "actor", "empty"},
		{"negative round", func(e *Event) { e.Round = -1 }, "round", "negative"},
		{"subject not UTF-8", func(e *Event) { e.Subject = "\xff" }, "subject", "UTF-8"},
		{"run id too long", func(e *Event) { e.RunID = strings.Repeat("r", MaxFieldLen+1) }, "run_id", "more than"},
	} {
		e := ok
		c.edit(&e)
		_, err := tl.log.Append(ctx, e)
		var ee *EventError
		if !errors.Is(err, ErrInvalidEvent) || !errors.As(err, &ee) || ee.Field != c.field || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: Append = %v; want an *EventError on %s mentioning %q", c.name, err, c.field, c.msg)
		}
	}
	// Values in a Detail may mention secrets; only keys are checked.
	for _, d := range []string{"", "  ", "{}", `{"note":"no secret here","round_secure":true}`, `{"a":{"b":[1,{"c":null}]},"e":"\"x\":"}`} {
		e := ok
		e.Detail = json.RawMessage(d)
		if _, err := tl.log.Append(ctx, e); err != nil {
			t.Errorf("Append with Detail %q: %v", d, err)
		}
	}
	rep, err := tl.log.Verify(ctx)
	if err != nil || !rep.OK || rep.Entries != 5 {
		t.Fatalf("Verify = %+v, %v; want 5 good entries and none of the refused ones", rep, err)
	}
	if all, _ := tl.log.List(ctx, Filter{}); all[0].Detail != nil || all[2].Detail != nil {
		t.Errorf("empty and {} Details are stored as %q, %q; want empty", all[0].Detail, all[2].Detail)
	}
}

func TestAppendRefusesUnrepresentableTime(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	l, err := Open(ctx, tl.db, WithClock(func() time.Time { return time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, ev(KindAdminAction, "a", 0, "")); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("Append at year 1500 = %v; want an error", err)
	}
}

// The append-only triggers stop application code from editing the log.
func TestTableIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	fill(t, tl.log, 3)
	for _, q := range []string{`UPDATE audit_log SET actor = 'x' WHERE seq = 2`, `DELETE FROM audit_log WHERE seq = 3`} {
		if _, err := tl.db.SQL().ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v; want the append-only trigger to abort it", q, err)
		}
	}
}

func TestUpdateReceived(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	var h [32]byte
	h[0], h[31] = 0xab, 0x01
	e := UpdateReceived("run-7", 3, "site-a", h, []byte{1, 2, 3})
	got, err := tl.log.Append(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	wantHex := "ab" + strings.Repeat("00", 30) + "01"
	if got.Kind != KindUpdateReceived || got.Actor != "site-a" || got.Round != 3 || got.Subject != wantHex {
		t.Errorf("UpdateReceived = %+v", got)
	}
	if want := `{"update_sha256":"` + wantHex + `","signature":"AQID"}`; string(got.Detail) != want {
		t.Errorf("Detail = %s, want %s", got.Detail, want)
	}
}

func TestNewDetail(t *testing.T) {
	d, err := NewDetail(map[string]any{"epsilon": 1.5, "site": "a"})
	if err != nil || string(d) != `{"epsilon":1.5,"site":"a"}` {
		t.Errorf("NewDetail(map) = %s, %v", d, err)
	}
	if _, err := NewDetail([]int{1}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("NewDetail(slice) = %v; want ErrInvalidEvent", err)
	}
	if _, err := NewDetail(map[string]string{"private_key": "x"}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("NewDetail(private_key) = %v; want ErrInvalidEvent", err)
	}
}

func TestKindsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		if err := checkKind(k); err != nil || seen[k] {
			t.Errorf("kind %q: %v (duplicate: %v)", k, err, seen[k])
		}
		seen[k] = true
	}
}
