package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rawDB opens the log's file with plain SQL, as someone with write access
// to the file (and no use for this package) would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tamper runs stmts on the file behind the log's back. Like a careful
// attacker it drops the append-only triggers first and puts them back
// afterwards, so only the rows tell.
func tamper(t *testing.T, tl *testLog, stmts ...string) {
	t.Helper()
	db := rawDB(t, tl.path)
	all := append([]string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}, stmts...)
	all = append(all, guardSQL)
	for _, q := range all {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("tamper: %s: %v", q, err)
		}
	}
	db.Close()
	tl.reopen(t)
}

// rehash is an attacker who knows the encoding: from seq from onwards it
// applies mutate to each entry and writes it back with a recomputed hash,
// field sums and prev_hash chaining, so that the rows are self-consistent.
func rehash(t *testing.T, tl *testLog, from, to int64, mutate func(e *entry)) {
	t.Helper()
	db := rawDB(t, tl.path)
	rows, err := db.Query(`SELECT seq, v, time, kind, run_id, round, actor, subject, detail, prev_hash, hash, field_sums
		FROM audit_log WHERE seq BETWEEN ? AND ? ORDER BY seq`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var es []entry
	for rows.Next() {
		var row rawRow
		if err := rows.Scan(&row.seq, &row.v, &row.time, &row.kind, &row.runID, &row.round, &row.actor,
			&row.subject, &row.detail, &row.prev, &row.hash, &row.sums); err != nil {
			t.Fatal(err)
		}
		e, err := row.entry()
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	rows.Close()
	var stmts []string
	var h hasher
	prev := es[0].prev
	for i := range es {
		e := &es[i]
		e.prev = prev
		mutate(e)
		var sums [sumsLen]byte
		hash := h.hash(e, &sums)
		stmts = append(stmts, fmt.Sprintf(`UPDATE audit_log SET time = '%s', kind = '%s', actor = '%s', prev_hash = x'%x', hash = x'%x', field_sums = x'%x' WHERE seq = %d`,
			time.Unix(0, e.timeNS).UTC().Format(timeLayout), e.kind, e.actor, e.prev, hash, sums, e.seq))
		prev = hash
	}
	db.Close()
	tamper(t, tl, stmts...)
}

func verify(t *testing.T, tl *testLog) Report {
	t.Helper()
	rep, err := tl.log.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantProblems checks that rep lists exactly the given problems, in order,
// each as "seq kind" plus a fragment of its message.
func wantProblems(t *testing.T, rep Report, want ...Problem) {
	t.Helper()
	if rep.OK != (len(want) == 0) {
		t.Errorf("Report.OK = %v with problems %v", rep.OK, rep.Problems)
	}
	if len(rep.Problems) != len(want) {
		t.Fatalf("problems = %v\nwant %d: %v", rep.Problems, len(want), want)
	}
	for i, w := range want {
		p := rep.Problems[i]
		if p.Seq != w.Seq || p.Kind != w.Kind || !strings.Contains(p.Message, w.Message) {
			t.Errorf("problem %d = %v\nwant seq %d: %s: …%s…", i, p, w.Seq, w.Kind, w.Message)
		}
	}
}

func TestVerifyIntactChain(t *testing.T) {
	tl := openTest(t)
	out := fill(t, tl.log, 50)
	tl.reopen(t)
	rep := verify(t, tl)
	wantProblems(t, rep)
	if rep.Entries != 50 || rep.Head != (Anchor{Seq: 50, Hash: out[49].Hash}) {
		t.Fatalf("Verify = %+v; want 50 entries, head 50:%x", rep, out[49].Hash)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("Report.Err() = %v", err)
	}
}

// Changing any one column of one row is found, at that row, naming the
// column. Each edit leaves the row's neighbours intact.
func TestVerifyDetectsEditedColumn(t *testing.T) {
	for _, c := range []struct {
		column, set, message string
	}{
		{"kind", `'round_started'`, "kind no longer matches"},
		{"detail", `'{"i": 17, "ok": false}'`, "detail no longer matches"},
		{"detail", `''`, "detail no longer matches"},
		{"actor", `'site-9'`, "actor no longer matches"},
		{"time", `'2026-03-01T12:00:18.123456788Z'`, "time no longer matches"},
		{"run_id", `'run-2'`, "run_id no longer matches"},
		{"round", `round + 1`, "round no longer matches"},
		{"subject", `'other'`, "subject no longer matches"},
		{"kind, actor", `'x'`, "kind, actor no longer match the entry's hash"},
		{"prev_hash", `zeroblob(32)`, "the prev_hash column was altered"},
		{"hash", `zeroblob(32)`, "the hash column was altered"},
		{"field_sums", `zeroblob(32)`, "the field_sums column was altered, or the entry was rewritten"},
	} {
		t.Run(c.column+"="+c.set, func(t *testing.T) {
			tl := openTest(t)
			fill(t, tl.log, 30)
			set := ""
			for _, col := range strings.Split(c.column, ", ") {
				if set != "" {
					set += ", "
				}
				set += col + " = " + c.set
			}
			tamper(t, tl, `UPDATE audit_log SET `+set+` WHERE seq = 17`)
			wantProblems(t, verify(t, tl), Problem{Seq: 17, Kind: ProblemEdited, Message: c.message})
		})
	}
}

func TestVerifyDetectsMalformedRow(t *testing.T) {
	tl := openTest(t)
	fill(t, tl.log, 5)
	tamper(t, tl, `UPDATE audit_log SET time = 'yesterday' WHERE seq = 2`)
	wantProblems(t, verify(t, tl), Problem{Seq: 2, Kind: ProblemEdited, Message: `entry 2 is malformed: time "yesterday"`})
}

func TestVerifyDetectsDeletedRows(t *testing.T) {
	for _, c := range []struct {
		name    string
		del     string
		problem Problem
	}{
		{"middle", `seq = 42`, Problem{Seq: 42, Kind: ProblemMissing, Message: "entry 42 is missing (41 is followed by 43)"}},
		{"range", `seq BETWEEN 10 AND 12`, Problem{Seq: 10, Kind: ProblemMissing, Message: "entries 10–12 are missing (9 is followed by 13)"}},
		{"first", `seq = 1`, Problem{Seq: 1, Kind: ProblemMissing, Message: "entry 1 is missing (the log starts at 2)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl := openTest(t)
			fill(t, tl.log, 100)
			tamper(t, tl, `DELETE FROM audit_log WHERE `+c.del)
			wantProblems(t, verify(t, tl), c.problem)
		})
	}
}

// Rows exchanged wholesale, or renumbered, hash correctly only under each
// other's seq; Verify names both.
func TestVerifyDetectsReorderedRows(t *testing.T) {
	const cols = `v, time, kind, run_id, round, actor, subject, detail, prev_hash, hash, field_sums`
	for _, c := range []struct {
		name  string
		stmts []string
		want  []Problem
	}{
		{"contents swapped", []string{
			`CREATE TEMP TABLE saved AS SELECT * FROM audit_log WHERE seq IN (5, 6)`,
			`UPDATE audit_log SET (` + cols + `) = (SELECT ` + cols + ` FROM saved WHERE saved.seq = 11 - audit_log.seq) WHERE seq IN (5, 6)`,
		}, []Problem{
			{Seq: 5, Kind: ProblemReordered, Message: "the row at seq 5 is entry 6"},
			{Seq: 6, Kind: ProblemReordered, Message: "the row at seq 6 is entry 5"},
		}},
		{"seq values swapped", []string{
			`UPDATE audit_log SET seq = 1000 WHERE seq = 5`,
			`UPDATE audit_log SET seq = 5 WHERE seq = 9`,
			`UPDATE audit_log SET seq = 9 WHERE seq = 1000`,
		}, []Problem{
			{Seq: 5, Kind: ProblemReordered, Message: "the row at seq 5 is entry 9"},
			{Seq: 9, Kind: ProblemReordered, Message: "the row at seq 9 is entry 5"},
		}},
		{"data swapped, hashes left in place", []string{
			`CREATE TEMP TABLE saved AS SELECT * FROM audit_log WHERE seq IN (5, 6)`,
			`UPDATE audit_log SET (time, actor, detail) = (SELECT time, actor, detail FROM saved WHERE saved.seq = 11 - audit_log.seq) WHERE seq IN (5, 6)`,
		}, []Problem{
			{Seq: 5, Kind: ProblemEdited, Message: "time, actor, detail no longer match"},
			{Seq: 6, Kind: ProblemEdited, Message: "time, actor, detail no longer match"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl := openTest(t)
			fill(t, tl.log, 12)
			tamper(t, tl, c.stmts...)
			wantProblems(t, verify(t, tl), c.want...)
		})
	}
}

// An attacker who re-hashes the row he edits still breaks the link to the
// next row.
func TestVerifyDetectsRehashedRow(t *testing.T) {
	tl := openTest(t)
	fill(t, tl.log, 20)
	rehash(t, tl, 7, 7, func(e *entry) { e.actor = "site-innocent" })
	wantProblems(t, verify(t, tl), Problem{Seq: 8, Kind: ProblemBrokenLink, Message: "entry 8's prev_hash does not match entry 7's hash"})
}

func TestVerifyDetectsBadGenesis(t *testing.T) {
	tl := openTest(t)
	fill(t, tl.log, 5)
	rehash(t, tl, 1, 5, func(e *entry) {
		if e.seq == 1 {
			e.prev[0] = 1
		}
	})
	wantProblems(t, verify(t, tl), Problem{Seq: 1, Kind: ProblemBadGenesis, Message: "not all zeros"})
}

// Problems are all reported, in seq order, not just the first.
func TestVerifyReportsEveryProblem(t *testing.T) {
	tl := openTest(t)
	fill(t, tl.log, 40)
	tamper(t, tl,
		`UPDATE audit_log SET kind = 'site_refused' WHERE seq = 3`,
		`DELETE FROM audit_log WHERE seq = 10`,
		`UPDATE audit_log SET seq = 1000 WHERE seq = 20`,
		`UPDATE audit_log SET seq = 20 WHERE seq = 21`,
		`UPDATE audit_log SET seq = 21 WHERE seq = 1000`,
		`UPDATE audit_log SET detail = '{}' WHERE seq = 40`,
	)
	rep := verify(t, tl)
	wantProblems(t, rep,
		Problem{Seq: 3, Kind: ProblemEdited, Message: "kind"},
		Problem{Seq: 10, Kind: ProblemMissing, Message: "entry 10 is missing"},
		Problem{Seq: 20, Kind: ProblemReordered, Message: "is entry 21"},
		Problem{Seq: 21, Kind: ProblemReordered, Message: "is entry 20"},
		Problem{Seq: 40, Kind: ProblemEdited, Message: "detail"},
	)
	err := rep.Err()
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "seq 3: edited") || !strings.Contains(err.Error(), "and 2 more") {
		t.Fatalf("Report.Err() = %v", err)
	}
}

// Truncation is invisible to the chain alone; an anchor recorded earlier
// reveals it.
func TestVerifyAgainstDetectsTruncation(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	fill(t, tl.log, 10)
	anchor, err := tl.log.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, tl, `DELETE FROM audit_log WHERE seq >= 9`)

	// Documented limitation: the shorter log is a valid chain.
	wantProblems(t, verify(t, tl))

	rep, err := tl.log.VerifyAgainst(ctx, anchor)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, Problem{Seq: 10, Kind: ProblemTruncated, Message: "the log ends at seq 8 but the anchor records entry 10: entries 9–10 were removed"})

	// Entries appended after the truncation do not hide it.
	fill(t, tl.log, 5)
	rep, err = tl.log.VerifyAgainst(ctx, anchor)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, Problem{Seq: 10, Kind: ProblemAnchorMismatch, Message: "the log was rewritten up to here"})
}

// A rewrite of the chain from some entry to the end is a valid chain too;
// an anchor at or after the first rewritten entry reveals it, an earlier
// one cannot.
func TestVerifyAgainstDetectsRewrite(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	out := fill(t, tl.log, 10)
	early := Anchor{Seq: 3, Hash: out[2].Hash}
	head, err := tl.log.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rehash(t, tl, 5, 10, func(e *entry) {
		if e.seq == 5 {
			e.kind = KindDecryptShareRefused
		}
	})
	wantProblems(t, verify(t, tl))
	rep, err := tl.log.VerifyAgainst(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, Problem{Seq: 10, Kind: ProblemAnchorMismatch, Message: "entry 10's hash is"})
	if rep, err := tl.log.VerifyAgainst(ctx, early); err != nil || !rep.OK {
		t.Fatalf("VerifyAgainst(anchor before the rewrite) = %+v, %v; want OK (entries after an anchor rely on the chain alone)", rep, err)
	}
}

func TestVerifyAgainstMissingAnchorEntry(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	out := fill(t, tl.log, 10)
	tamper(t, tl, `DELETE FROM audit_log WHERE seq = 4`)
	rep, err := tl.log.VerifyAgainst(ctx, Anchor{Seq: 4, Hash: out[3].Hash})
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep,
		Problem{Seq: 4, Kind: ProblemMissing, Message: "entry 4 is missing"},
		Problem{Seq: 4, Kind: ProblemAnchorMismatch, Message: "entry 4, which the anchor records, is missing"})
	if _, err := tl.log.VerifyAgainst(ctx, Anchor{Seq: -1}); err == nil {
		t.Error("VerifyAgainst(seq -1) succeeded")
	}
}

func TestVerifyReportsRemovedGuards(t *testing.T) {
	tl := openTest(t)
	fill(t, tl.log, 3)
	db := rawDB(t, tl.path)
	if _, err := db.Exec(`DROP TRIGGER audit_log_no_delete`); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, verify(t, tl), Problem{Seq: 0, Kind: ProblemGuardRemoved, Message: "audit_log_no_delete is missing"})
}

func TestVerifyCapsProblems(t *testing.T) {
	tl := openTest(t)
	fill(t, tl.log, MaxProblems+10)
	tamper(t, tl, `UPDATE audit_log SET actor = 'x'`)
	rep := verify(t, tl)
	if rep.OK || len(rep.Problems) != MaxProblems || rep.Omitted != 10 {
		t.Fatalf("Verify after editing %d rows: OK %v, %d problems, %d omitted; want %d and 10",
			MaxProblems+10, rep.OK, len(rep.Problems), rep.Omitted, MaxProblems)
	}
}

func TestAnchorText(t *testing.T) {
	a := Anchor{Seq: 42}
	a.Hash[0], a.Hash[31] = 0xde, 0xad
	b, err := json.Marshal(struct{ Audit Anchor }{a})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Audit":"42:de` + strings.Repeat("00", 30) + `ad"}`
	if string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	var back struct{ Audit Anchor }
	if err := json.Unmarshal(b, &back); err != nil || back.Audit != a {
		t.Fatalf("round trip = %v, %v", back.Audit, err)
	}
	for _, s := range []string{"", "42", "x:00", "-1:" + strings.Repeat("00", 32), "1:abcd", "0:" + strings.Repeat("11", 32)} {
		if _, err := ParseAnchor(s); err == nil {
			t.Errorf("ParseAnchor(%q) succeeded", s)
		}
	}
	if z, err := ParseAnchor(Anchor{}.String()); err != nil || z != (Anchor{}) {
		t.Errorf("ParseAnchor(zero) = %v, %v", z, err)
	}
}
