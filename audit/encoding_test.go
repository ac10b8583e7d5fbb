package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// The encoding documented in doc.go, written out byte by byte.
func TestCanonicalEncoding(t *testing.T) {
	var prev [32]byte
	for i := range prev {
		prev[i] = byte(i)
	}
	e := entry{
		version: 1, seq: 2, timeNS: 0x0102030405060708,
		kind: "site_joined", runID: "r1", round: 3, actor: "site-a", subject: "", detail: []byte(`{"a":1}`), prev: prev,
	}
	u64 := func(v uint64) string {
		return hex.EncodeToString([]byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	lp := func(s string) string { return u64(uint64(len(s))) + hex.EncodeToString([]byte(s)) }
	want := lp("cohort/audit/event") + "00000001" + u64(2) + "0102030405060708" + lp("site_joined") + lp("r1") + u64(3) +
		lp("site-a") + lp("") + lp(`{"a":1}`) + hex.EncodeToString(prev[:])
	got := hex.EncodeToString(encode(nil, &e, nil))
	if got != want {
		t.Fatalf("encode =\n%s\nwant\n%s", got, want)
	}
	var h hasher
	wantHash, _ := hex.DecodeString(want)
	if sum := h.hash(&e, nil); sum != sha256.Sum256(wantHash) {
		t.Fatalf("hash = %x, want SHA-256 of the encoding", sum)
	}
}

// Moving bytes from one field to its neighbour, or a negative value to its
// two's-complement twin, changes the encoding.
func TestEncodingIsUnambiguous(t *testing.T) {
	base := entry{version: 1, seq: 1, kind: "ab", runID: "c", actor: "x", subject: "y"}
	variants := []entry{base, base, base, base, base}
	variants[1].kind, variants[1].runID = "a", "bc"
	variants[2].actor, variants[2].subject = "xy", ""
	variants[3].subject, variants[3].detail = "", []byte("y")
	variants[4].round = 1
	seen := map[string]int{}
	for i, v := range variants {
		k := string(encode(nil, &v, nil))
		if j, dup := seen[k]; dup {
			t.Errorf("variants %d and %d encode the same", j, i)
		}
		seen[k] = i
	}
}

// A Time with a monotonic reading or another zone hashes as its UTC
// nanoseconds: the returned entry verifies after the round trip through the
// database.
func TestTimeNormalisation(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	l, err := Open(ctx, tl.db, WithClock(func() time.Time { return time.Now().In(zone) }))
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Append(ctx, ev(KindAdminAction, "a", 0, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.Location() != time.UTC || strings.Contains(got.Time.String(), "m=") {
		t.Errorf("Time = %#v; want UTC without a monotonic reading", got.Time)
	}
	all, err := l.List(ctx, Filter{})
	if err != nil || len(all) != 1 || !all[0].Time.Equal(got.Time) || all[0].Hash != got.Hash {
		t.Fatalf("List = %+v, %v; want the appended entry", all, err)
	}
	if rep, err := l.Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// Strings with NUL bytes and non-ASCII text survive SQLite unchanged, so
// their hashes verify.
func TestOddStringsRoundTrip(t *testing.T) {
	ctx := context.Background()
	tl := openTest(t)
	e := Event{Kind: KindAdminAction, RunID: "r\x00n", Actor: "CN=Zoë Ångström", Subject: "a\x00", Detail: []byte(`{"note":"ü\u0000"}`)}
	got, err := tl.log.Append(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	all, err := tl.log.List(ctx, Filter{})
	if err != nil || len(all) != 1 {
		t.Fatal(err)
	}
	if all[0].RunID != e.RunID || all[0].Actor != e.Actor || all[0].Subject != e.Subject || !bytes.Equal(all[0].Detail, got.Detail) {
		t.Fatalf("read back %+v, want %+v", all[0], got)
	}
	if rep, err := tl.log.Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}
