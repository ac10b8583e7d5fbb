package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Event kinds. A kind is a lower-case snake_case word; these are the ones
// Cohort writes. Append accepts any well-formed kind (see Event.Validate), so
// a new kind is added here, in one line, rather than invented at a call site.
const (
	KindRunStarted          = "run_started"           // coordinator starts a run; Detail: config digest
	KindRunFinished         = "run_finished"          // run completed, failed or stopped; Detail: state, reason
	KindSiteJoined          = "site_joined"           // a site's certificate was accepted for the run
	KindSiteRefused         = "site_refused"          // a site was turned away (bad certificate, not enrolled, ...)
	KindRoundStarted        = "round_started"         // round r opened; Detail: selected sites
	KindUpdateReceived      = "update_received"       // a signed update arrived; Detail: update_sha256, signature
	KindUpdateRejected      = "update_rejected"       // an update failed a check (signature, clipping, late)
	KindRoundCommitted      = "round_committed"       // round r's model and records were committed
	KindRoundFailed         = "round_failed"          // round r's attempt was abandoned
	KindDecryptShareGiven   = "decrypt_share_given"   // a key holder contributed a decryption share
	KindDecryptShareRefused = "decrypt_share_refused" // a key holder refused to decrypt (policy, budget, ...)
	KindLedgerEntry         = "ledger_entry"          // a privacy-ledger row was reserved or released
	KindGateDecision        = "gate_decision"         // a release gate passed or blocked a model
	KindModelPublished      = "model_published"       // a model version left the coordinator
	KindRoleDenied          = "role_denied"           // an authenticated caller lacked the role for an RPC
	KindAdminAction         = "admin_action"          // an operator changed configuration, enrolment, ...
)

// Kinds lists the kinds defined by this package, in declaration order.
func Kinds() []string {
	return []string{
		KindRunStarted, KindRunFinished, KindSiteJoined, KindSiteRefused,
		KindRoundStarted, KindUpdateReceived, KindUpdateRejected, KindRoundCommitted,
		KindRoundFailed, KindDecryptShareGiven, KindDecryptShareRefused, KindLedgerEntry,
		KindGateDecision, KindModelPublished, KindRoleDenied, KindAdminAction,
	}
}

// ActorCoordinator is the Actor of events the coordinator records about its
// own decisions.
const ActorCoordinator = "coordinator"

// Limits on the fields of an event. An audit row is a short statement of
// fact, not a place for payloads: store a digest of a large object, not the
// object.
const (
	MaxKindLen     = 64
	MaxFieldLen    = 1024     // RunID, Actor, Subject, in bytes
	MaxDetailBytes = 16 << 10 // Detail, in bytes, after compaction
)

// Event is one entry of the audit log.
//
// Kind, RunID, Round, Actor, Subject and Detail are the caller's. Seq, Time,
// PrevHash and Hash are assigned by Append; whatever the caller puts there
// is ignored.
type Event struct {
	Seq  int64     // position in the log: 1, 2, 3, ... with no gaps
	Time time.Time // UTC, nanosecond precision, from the Log's clock

	Kind    string // one of the Kind constants (or another snake_case word)
	RunID   string // run the event belongs to; "" for events outside a run
	Round   int    // round number; 0 if not about a round
	Actor   string // who acted: a site name, a user's certificate CN, ActorCoordinator
	Subject string // what it is about: a site, a model version, a key id, ...

	// Detail is a small JSON object with the event's particulars, or empty.
	// It is stored compacted (insignificant white space removed); "{}" is
	// stored as empty.
	//
	// Detail must never hold secrets: no key material, key or decryption
	// shares, passwords, tokens or raw data. The log is read by auditors and
	// copied into reports; record digests, identifiers and decisions only.
	// Append refuses objects with keys that look like secrets (see
	// Event.Validate), but that is a guard against accidents, not a filter
	// to rely on.
	Detail json.RawMessage

	PrevHash [32]byte // Hash of entry Seq−1; all zeros for entry 1
	Hash     [32]byte // SHA-256 of the canonical encoding (see package doc)
}

// ErrInvalidEvent is wrapped by every error that reports an event Append
// refused.
var ErrInvalidEvent = errors.New("audit: invalid event")

// EventError describes why an event was refused.
type EventError struct {
	Field  string // "kind", "run_id", "round", "actor", "subject" or "detail"
	Reason string
}

func (e *EventError) Error() string {
	return "audit: invalid event: " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidEvent.
func (e *EventError) Unwrap() error { return ErrInvalidEvent }

// Validate reports the first problem that would make Append refuse e:
//
//   - Kind is 1 to MaxKindLen bytes of [a-z0-9_], starting with a letter;
//   - Actor is not empty; RunID, Actor and Subject are valid UTF-8 of at
//     most MaxFieldLen bytes;
//   - Round is not negative;
//   - Detail is empty or a JSON object of at most MaxDetailBytes once
//     compacted, and none of its keys, at any depth, contains "secret",
//     "password", "passphrase", "private_key", "privkey" or "api_key"
//     (compared ignoring case, '_' and '-').
//
// The errors wrap ErrInvalidEvent and are *EventError.
func (e Event) Validate() error {
	_, err := e.normalised()
	return err
}

// normalised validates e and returns it with Detail compacted.
func (e Event) normalised() (Event, error) {
	if err := checkKind(e.Kind); err != nil {
		return e, err
	}
	for _, f := range []struct{ name, v string }{{"run_id", e.RunID}, {"actor", e.Actor}, {"subject", e.Subject}} {
		switch {
		case len(f.v) > MaxFieldLen:
			return e, &EventError{f.name, fmt.Sprintf("%d bytes, more than %d", len(f.v), MaxFieldLen)}
		case !utf8.ValidString(f.v):
			return e, &EventError{f.name, "not valid UTF-8"}
		}
	}
	if e.Actor == "" {
		return e, &EventError{"actor", "empty; say who acted (a site, a user, \"coordinator\")"}
	}
	if e.Round < 0 {
		return e, &EventError{"round", fmt.Sprintf("negative (%d)", e.Round)}
	}
	d, err := normaliseDetail(e.Detail)
	if err != nil {
		return e, err
	}
	e.Detail = d
	return e, nil
}

func checkKind(k string) error {
	if k == "" {
		return &EventError{"kind", "empty"}
	}
	if len(k) > MaxKindLen {
		return &EventError{"kind", fmt.Sprintf("%d bytes, more than %d", len(k), MaxKindLen)}
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_')) {
			return &EventError{"kind", fmt.Sprintf("%q is not a lower-case snake_case word", k)}
		}
	}
	return nil
}

// secretKeyWords are the key fragments Detail may not contain, after
// lower-casing and removing '_' and '-'.
var secretKeyWords = []string{"secret", "password", "passphrase", "privatekey", "privkey", "apikey"}

// normaliseDetail validates d and returns its compact form (nil if empty).
func normaliseDetail(d json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(d)
	if len(t) == 0 {
		return nil, nil
	}
	if !json.Valid(t) {
		return nil, &EventError{"detail", "not valid JSON"}
	}
	if t[0] != '{' {
		return nil, &EventError{"detail", fmt.Sprintf("a JSON %s, want an object", jsonType(t[0]))}
	}
	var buf bytes.Buffer
	buf.Grow(len(t))
	if err := json.Compact(&buf, t); err != nil { // cannot fail on valid JSON
		return nil, &EventError{"detail", err.Error()}
	}
	c := buf.Bytes()
	if len(c) > MaxDetailBytes {
		return nil, &EventError{"detail", fmt.Sprintf("%d bytes, more than %d: record a digest, not the object", len(c), MaxDetailBytes)}
	}
	if err := checkDetailKeys(c); err != nil {
		return nil, err
	}
	if len(c) == 2 { // "{}"
		return nil, nil
	}
	return json.RawMessage(c), nil
}

func jsonType(first byte) string {
	switch first {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// checkDetailKeys walks compact, valid JSON: there a string is an object key
// exactly when a ':' follows its closing quote.
func checkDetailKeys(c []byte) error {
	for i := 0; i < len(c); i++ {
		if c[i] != '"' {
			continue
		}
		j := i + 1
		for c[j] != '"' {
			if c[j] == '\\' {
				j++
			}
			j++
		}
		if j+1 < len(c) && c[j+1] == ':' {
			key := string(c[i+1 : j])
			if strings.IndexByte(key, '\\') >= 0 {
				_ = json.Unmarshal(c[i:j+1], &key) // valid JSON string
			}
			norm := strings.Map(func(r rune) rune {
				if r == '_' || r == '-' {
					return -1
				}
				return unicode.ToLower(r)
			}, key)
			for _, w := range secretKeyWords {
				if strings.Contains(norm, w) {
					return &EventError{"detail", fmt.Sprintf("key %q looks like a secret; the audit log must never hold key material or credentials", key)}
				}
			}
		}
		i = j
	}
	return nil
}

// NewDetail marshals v (typically a struct or a map[string]any) into a
// Detail, checked as Append would check it.
func NewDetail(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &EventError{"detail", err.Error()}
	}
	return normaliseDetail(b)
}

// UpdateReceived returns the event recording that site sent a signed update
// for round of runID: Subject is the hex SHA-256 of the update, and Detail
// holds it again as "update_sha256" together with the site's "signature"
// (standard base64) over it.
func UpdateReceived(runID string, round int, site string, updateSHA256 [32]byte, signature []byte) Event {
	h := hex.EncodeToString(updateSHA256[:])
	d, _ := json.Marshal(struct {
		UpdateSHA256 string `json:"update_sha256"`
		Signature    string `json:"signature"`
	}{h, base64.StdEncoding.EncodeToString(signature)})
	return Event{Kind: KindUpdateReceived, RunID: runID, Round: round, Actor: site, Subject: h, Detail: d}
}
