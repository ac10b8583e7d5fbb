package coordinator

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cohortfl/cohort/audit"
)

// The engine writes the audit log (package audit) in the store's file.
// Events of an open round are buffered in memory (a 1,000-site round would
// otherwise pay one fsync per update) and written in the transaction that
// commits the round, so the log and the round records can never disagree;
// other events are written when their phase ends. Buffered events of a
// process that crashes are lost with the uncommitted round they describe;
// the round's re-play records its own.

// maxDetailBytes bounds an event's detail well below the audit log's limit;
// a larger detail (a long site-supplied reason, a cohort of thousands of
// sites) is replaced by its size and SHA-256, so that no input can make an
// audit event invalid and fail the round commit it belongs to.
const maxDetailBytes = 8 << 10

// maxReason bounds the free-text reasons copied into details.
const maxReason = 512

// note buffers ev for the next flush. An event the log would refuse is
// replaced by a valid one saying why, so a commit never fails on it. Safe
// for concurrent use.
func (e *Engine) note(ev audit.Event) {
	if err := ev.Validate(); err != nil {
		e.log.Error("audit event replaced: it would be refused", "kind", ev.Kind, "err", err)
		ev = audit.Event{Kind: ev.Kind, RunID: ev.RunID, Round: ev.Round, Actor: audit.ActorCoordinator,
			Detail: mustJSON(map[string]any{"invalid_event": truncate(err.Error(), maxReason)})}
		if ev.Validate() != nil {
			ev.Kind, ev.RunID = audit.KindAdminAction, ""
		}
	}
	e.amu.Lock()
	e.pending = append(e.pending, ev)
	e.amu.Unlock()
}

// noteDetail buffers an event with a JSON detail object.
func (e *Engine) noteDetail(kind, runID string, round int, actor, subject string, detail map[string]any) {
	for k, v := range detail {
		if s, ok := v.(string); ok && k == "reason" {
			detail[k] = truncate(s, maxReason)
		}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		e.log.Error("audit detail does not encode", "kind", kind, "err", err)
		b = nil
	}
	if len(b) > maxDetailBytes {
		sum := sha256.Sum256(b)
		b = mustJSON(map[string]any{"truncated": true, "bytes": len(b), "sha256": hexDigest(sum)})
	}
	e.note(audit.Event{Kind: kind, RunID: runID, Round: round, Actor: actor, Subject: truncate(subject, 256), Detail: b})
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func (e *Engine) takePending() []audit.Event {
	e.amu.Lock()
	defer e.amu.Unlock()
	p := e.pending
	e.pending = nil
	return p
}

// flushAudit writes the buffered events in one transaction.
func (e *Engine) flushAudit(ctx context.Context) error {
	p := e.takePending()
	if len(p) == 0 {
		return nil
	}
	if _, err := e.audit.AppendBatch(ctx, p); err != nil {
		e.log.Error("writing the audit log", "events", len(p), "err", err)
		return fmt.Errorf("coordinator: writing %d audit events: %w", len(p), err)
	}
	return nil
}

// flushAuditTx writes the buffered events inside tx (a round's commit).
func (e *Engine) flushAuditTx(ctx context.Context, tx *sql.Tx, p []audit.Event) error {
	for _, ev := range p {
		if _, err := e.audit.AppendTx(ctx, tx, ev); err != nil {
			return fmt.Errorf("coordinator: audit event %s: %w", ev.Kind, err)
		}
	}
	return nil
}

// Record appends one event to the audit log at once (for the transport:
// connections, refusals, denied roles).
func (e *Engine) Record(ctx context.Context, ev audit.Event) {
	if _, err := e.audit.Append(ctx, ev); err != nil {
		e.log.Error("writing the audit log", "kind", ev.Kind, "err", err)
	}
}

// AuditLog returns the engine's audit log.
func (e *Engine) AuditLog() *audit.Log { return e.audit }

func hexDigest(d [32]byte) string { return hex.EncodeToString(d[:]) }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// refusalBurst bounds the refusal events (site_refused, role_denied)
// written per second, so a stream of bad handshakes or denied calls cannot
// turn into a stream of fsyncs; the next event written counts the ones left
// out.
const refusalBurst = 10

// recordRefusal writes a refused TLS handshake to the audit log.
func (e *Engine) recordRefusal(peer string, err error) {
	e.recordLimited(audit.Event{Kind: audit.KindSiteRefused, Actor: "unauthenticated", Subject: peer},
		map[string]any{"peer": peer, "reason": truncate(err.Error(), maxReason)})
}

// recordLimited writes a refusal event at once, at most refusalBurst per
// second; detail gets the count of events suppressed before it.
func (e *Engine) recordLimited(ev audit.Event, detail map[string]any) {
	now := e.o.Now()
	e.amu.Lock()
	if now.Sub(e.refusalWindow) >= time.Second {
		e.refusalWindow, e.refusalCount = now, 0
	}
	e.refusalCount++
	if e.refusalCount > refusalBurst {
		e.refusalDropped++
		e.amu.Unlock()
		return
	}
	dropped := e.refusalDropped
	e.refusalDropped = 0
	e.amu.Unlock()
	detail["suppressed_before"] = dropped
	ev.Detail = mustJSON(detail)
	e.Record(context.Background(), ev)
}
