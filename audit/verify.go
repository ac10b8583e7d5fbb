package audit

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Anchor is a point of the chain recorded outside the database: the seq and
// hash of an entry. Because each hash covers the previous one, an anchor
// commits to every entry up to Seq.
type Anchor struct {
	Seq  int64
	Hash [32]byte
}

// String returns "seq:hex-hash", the form ParseAnchor reads.
func (a Anchor) String() string {
	return strconv.FormatInt(a.Seq, 10) + ":" + hex.EncodeToString(a.Hash[:])
}

// MarshalText implements encoding.TextMarshaler (so an Anchor is a JSON
// string in a model card).
func (a Anchor) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Anchor) UnmarshalText(b []byte) error {
	p, err := ParseAnchor(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAnchor parses the form written by Anchor.String.
func ParseAnchor(s string) (Anchor, error) {
	seqStr, hashStr, ok := strings.Cut(s, ":")
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if !ok || err != nil || seq < 0 {
		return Anchor{}, fmt.Errorf("audit: anchor %q: want seq:hex-sha256", s)
	}
	h, err := hex.DecodeString(hashStr)
	if err != nil || len(h) != 32 {
		return Anchor{}, fmt.Errorf("audit: anchor %q: want seq:hex-sha256", s)
	}
	a := Anchor{Seq: seq}
	copy(a.Hash[:], h)
	if seq == 0 && a.Hash != ([32]byte{}) {
		return Anchor{}, fmt.Errorf("audit: anchor %q: the empty log's anchor has a zero hash", s)
	}
	return a, nil
}

// Problem kinds.
const (
	// ProblemEdited: the row's stored columns no longer match its hash. The
	// message names the columns that changed, when the checksums kept
	// beside the row tell (or says that the hash column itself was altered).
	ProblemEdited = "edited"
	// ProblemMissing: one or more seq values are absent (rows deleted).
	ProblemMissing = "missing"
	// ProblemReordered: the row hashes correctly only under another seq:
	// rows were swapped or renumbered.
	ProblemReordered = "reordered"
	// ProblemBrokenLink: the row's prev_hash is not the previous row's hash,
	// although each row is self-consistent: a row was rewritten and
	// re-hashed, or rows were spliced in.
	ProblemBrokenLink = "broken_link"
	// ProblemBadGenesis: entry 1's prev_hash is not all zeros.
	ProblemBadGenesis = "bad_genesis"
	// ProblemTruncated (VerifyAgainst): the log ends before the anchor.
	ProblemTruncated = "truncated"
	// ProblemAnchorMismatch (VerifyAgainst): the anchored entry's hash
	// differs from the anchor, or the entry is gone: the log was rewritten.
	ProblemAnchorMismatch = "anchor_mismatch"
	// ProblemGuardRemoved: the triggers that make the table append-only are
	// missing. It says nothing about the rows by itself.
	ProblemGuardRemoved = "guard_removed"
)

// Problem is one finding of Verify.
type Problem struct {
	Seq     int64  // the entry concerned (for ProblemMissing: the first missing seq); 0 if none
	Kind    string // one of the Problem constants
	Message string
}

func (p Problem) String() string { return fmt.Sprintf("seq %d: %s: %s", p.Seq, p.Kind, p.Message) }

// MaxProblems bounds Report.Problems; further problems are only counted.
const MaxProblems = 1000

// Report is the outcome of Verify.
type Report struct {
	OK       bool      // no problem found
	Entries  int       // rows read
	Head     Anchor    // last row's seq and stored hash (zero if empty)
	Problems []Problem // in seq order, at most MaxProblems
	Omitted  int       // problems found beyond MaxProblems
}

// ErrTampered is wrapped by Report.Err when verification found problems.
var ErrTampered = errors.New("audit: log fails verification")

// Err returns nil if r.OK, else an error wrapping ErrTampered that
// summarises the first problems (see Summary).
func (r Report) Err() error {
	if r.OK {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrTampered, r.Summary())
}

// summaryProblems is how many problems Summary names.
const summaryProblems = 3

// Summary names the first three problems, separated by "; ", and counts
// the rest (Omitted included) as "; and N more" if there are more than
// three; it is empty if there are none.
func (r Report) Summary() string {
	var b strings.Builder
	for i, p := range r.Problems {
		if i == summaryProblems {
			fmt.Fprintf(&b, "; and %d more", len(r.Problems)-summaryProblems+r.Omitted)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (r *Report) add(seq int64, kind, format string, args ...any) {
	if len(r.Problems) >= MaxProblems {
		r.Omitted++
		return
	}
	r.Problems = append(r.Problems, Problem{Seq: seq, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// reorderWindow is how far from its stored seq Verify looks for the seq a
// row's hash was computed with. A row moved farther is reported as edited.
const reorderWindow = 64

// Verify reads every row in seq order and recomputes the chain. It returns
// every problem it finds (up to MaxProblems); an error only for failures to
// read the database. Verify streams the rows, keeping only the previous
// row's hashes in memory, inside one read statement (a consistent snapshot;
// appends wait until it finishes).
//
// What a chain alone cannot show: rows removed from the end (the shorter
// log is a valid chain) and a log rewritten and re-hashed from some entry
// to the end by someone with write access. Use VerifyAgainst with an anchor
// kept outside the database for those.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	return l.verify(ctx, nil)
}

// VerifyAgainst is Verify plus a check of the log against an anchor taken
// earlier with Head (or from a Report): the anchored entry must still exist
// with the recorded hash. Together with an intact chain that proves every
// entry up to the anchor is the one written; it detects truncation back
// past the anchor and any rewrite of entries up to it. Entries after the
// anchor are protected by the chain only.
func (l *Log) VerifyAgainst(ctx context.Context, a Anchor) (Report, error) {
	if a.Seq < 0 || a.Seq == 0 && a.Hash != ([32]byte{}) {
		return Report{}, fmt.Errorf("audit: verify: invalid anchor %v", a)
	}
	return l.verify(ctx, &a)
}

func (l *Log) verify(ctx context.Context, anchor *Anchor) (Report, error) {
	var r Report
	if err := l.checkGuards(ctx, &r); err != nil {
		return Report{}, err
	}
	rows, err := l.db.SQL().QueryContext(ctx, `SELECT seq, v, time, kind, run_id, round, actor, subject, detail,
		prev_hash, hash, field_sums FROM audit_log ORDER BY seq`)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()

	v := verifier{r: &r}
	anchorSeen := false
	for rows.Next() {
		var row rawRow
		if err := rows.Scan(&row.seq, &row.v, &row.time, &row.kind, &row.runID, &row.round, &row.actor,
			&row.subject, &row.detail, &row.prev, &row.hash, &row.sums); err != nil {
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		v.row(&row)
		if anchor != nil && row.seq == anchor.Seq {
			anchorSeen = true
			if len(row.hash) != 32 || [32]byte(row.hash) != anchor.Hash {
				r.add(row.seq, ProblemAnchorMismatch, "entry %d's hash is %x, the anchor recorded %x: the log was rewritten up to here",
					row.seq, row.hash, anchor.Hash)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	if anchor != nil && anchor.Seq > 0 && !anchorSeen {
		if v.lastSeq < anchor.Seq {
			r.add(anchor.Seq, ProblemTruncated, "the log ends at seq %d but the anchor records entry %d: entries %s were removed from the end",
				v.lastSeq, anchor.Seq, seqRange(v.lastSeq+1, anchor.Seq))
		} else {
			r.add(anchor.Seq, ProblemAnchorMismatch, "entry %d, which the anchor records, is missing", anchor.Seq)
		}
	}
	r.OK = len(r.Problems) == 0 && r.Omitted == 0
	return r, nil
}

func (l *Log) checkGuards(ctx context.Context, r *Report) error {
	for _, name := range guardTriggers {
		var n int
		if err := l.db.SQL().QueryRowContext(ctx,
			`SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = ? AND tbl_name = 'audit_log'`, name).Scan(&n); err != nil {
			return fmt.Errorf("audit: verify: %w", err)
		}
		if n == 0 {
			r.add(0, ProblemGuardRemoved, "trigger %s is missing: someone changed the schema to allow updates or deletes", name)
		}
	}
	return nil
}

// rawRow is one row as stored; nothing about it is trusted.
type rawRow struct {
	seq, v, round                             int64
	time, kind, runID, actor, subject, detail string
	prev, hash, sums                          []byte
}

// verifier holds the state Verify carries from one row to the next.
type verifier struct {
	r       *Report
	h       hasher
	lastSeq int64 // 0 before the first row

	// About the previous row (meaningful when lastSeq > 0):
	prevStored   [32]byte // its hash column
	prevComputed [32]byte // the hash its columns actually have
	prevHashCol  bool     // its hash column was altered, its contents not
	prevUnknown  bool     // malformed or reordered: the link to it is not checked
}

func (v *verifier) row(row *rawRow) {
	r := v.r
	r.Entries++
	seq := row.seq
	expected := v.lastSeq + 1
	gap := seq != expected
	if gap {
		if v.lastSeq == 0 {
			r.add(expected, ProblemMissing, "%s missing (the log starts at %d)", entriesRange(expected, seq-1), seq)
		} else {
			r.add(expected, ProblemMissing, "%s missing (%d is followed by %d)", entriesRange(expected, seq-1), v.lastSeq, seq)
		}
	}
	before := *v // the previous row's state
	v.lastSeq = seq
	v.prevUnknown, v.prevHashCol = true, false
	r.Head = Anchor{Seq: seq}
	copy(r.Head.Hash[:], row.hash)

	e, err := row.entry()
	if err != nil {
		r.add(seq, ProblemEdited, "entry %d is malformed: %v", seq, err)
		return
	}
	var stored [32]byte
	var sums [sumsLen]byte
	copy(stored[:], row.hash)
	copy(sums[:], row.sums)
	var got [sumsLen]byte
	computed := v.h.hash(&e, &got)
	changed := changedFields(&got, &sums)
	v.prevStored, v.prevComputed, v.prevUnknown = stored, computed, false

	// The prev_hash this row should carry, if the previous row is known.
	var want [32]byte // all zeros for entry 1
	wantKnown := seq == 1 || !gap && !before.prevUnknown
	if seq != 1 {
		want = before.prevStored
	}

	linkReported := false
	switch {
	case computed == stored && len(changed) > 0:
		r.add(seq, ProblemEdited, "entry %d: %s differ from the checksums written with the entry although its hash is consistent: "+
			"the field_sums column was altered, or the entry was rewritten and re-hashed", seq, strings.Join(changed, ", "))
	case computed == stored:
		// Intact.
	case len(changed) == 1 && changed[0] == "prev_hash" && wantKnown && v.hashAs(e, seq, want) == stored:
		r.add(seq, ProblemEdited, "entry %d: the prev_hash column was altered (the entry hashes correctly with the previous entry's hash)", seq)
		linkReported = true
	case len(changed) > 0:
		r.add(seq, ProblemEdited, "entry %d was edited: %s no longer match%s the entry's hash", seq, strings.Join(changed, ", "), plural(len(changed)))
		linkReported = slices.Contains(changed, "prev_hash")
	default:
		// The columns are as written: the row sits under another seq, or
		// its hash column was altered.
		if m, ok := v.originalSeq(e, stored); ok {
			r.add(seq, ProblemReordered, "the row at seq %d is entry %d (it hashes correctly only as seq %d): rows were swapped or renumbered",
				seq, m, m)
			v.prevUnknown = true
			return
		}
		r.add(seq, ProblemEdited, "entry %d: the hash column was altered (the other columns still match the checksums written with them)", seq)
		v.prevHashCol = true
	}

	switch {
	case !wantKnown || linkReported || e.prev == want:
	case before.prevHashCol && e.prev == before.prevComputed:
		// Explained by the previous row's altered hash column.
	case seq == 1:
		r.add(seq, ProblemBadGenesis, "entry 1's prev_hash is %x, not all zeros: the chain does not start at the genesis", e.prev)
	default:
		r.add(seq, ProblemBrokenLink, "entry %d's prev_hash does not match entry %d's hash: entry %d was rewritten and re-hashed, or the chain was spliced here",
			seq, seq-1, seq-1)
	}
}

// hashAs returns the hash e would have at seq with prev as its prev_hash.
func (v *verifier) hashAs(e entry, seq int64, prev [32]byte) [32]byte {
	e.seq, e.prev = seq, prev
	return v.h.hash(&e, nil)
}

// originalSeq looks near e.seq for the seq under which e hashes to stored.
func (v *verifier) originalSeq(e entry, stored [32]byte) (int64, bool) {
	for d := int64(1); d <= reorderWindow; d++ {
		for _, m := range [2]int64{e.seq - d, e.seq + d} {
			if m >= 1 && v.hashAs(e, m, e.prev) == stored {
				return m, true
			}
		}
	}
	return 0, false
}

// entry decodes the hashed content of row, or says why it cannot.
func (row *rawRow) entry() (entry, error) {
	if row.v != encodingVersion {
		return entry{}, fmt.Errorf("unknown encoding version %d", row.v)
	}
	if len(row.prev) != 32 || len(row.hash) != 32 || len(row.sums) != sumsLen {
		return entry{}, fmt.Errorf("prev_hash, hash, field_sums have %d, %d, %d bytes, want 32, 32, %d",
			len(row.prev), len(row.hash), len(row.sums), sumsLen)
	}
	t, err := time.Parse(timeLayout, row.time)
	if err != nil || !representable(t) {
		return entry{}, fmt.Errorf("time %q is not a timestamp of the form %s", row.time, timeLayout)
	}
	return entry{
		version: row.v, seq: row.seq, timeNS: t.UnixNano(),
		kind: row.kind, runID: row.runID, round: row.round, actor: row.actor, subject: row.subject,
		detail: []byte(row.detail), prev: [32]byte(row.prev),
	}, nil
}

// changedFields names the fields whose checksums differ.
func changedFields(got, stored *[sumsLen]byte) []string {
	var out []string
	for i, name := range sumFields {
		if binary.BigEndian.Uint32(got[4*i:]) != binary.BigEndian.Uint32(stored[4*i:]) {
			out = append(out, name)
		}
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return "es"
	}
	return ""
}

func entriesRange(from, to int64) string {
	if from == to {
		return fmt.Sprintf("entry %d is", from)
	}
	return fmt.Sprintf("entries %d–%d are", from, to)
}

func seqRange(from, to int64) string {
	if from == to {
		return strconv.FormatInt(from, 10)
	}
	return fmt.Sprintf("%d–%d", from, to)
}
