package coordinator

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/internal/protocol"
)

// The engine writes the audit log (package audit) in the store's file.
// Events of an open round are buffered in memory (a 1,000-site round would
// otherwise pay one fsync per update) and written in the transaction that
// commits the round, so the log and the round records can never disagree;
// other events are written when their phase ends. Buffered events of a
// process that crashes are lost with the uncommitted round they describe;
// the round's re-play records its own.

// note buffers ev for the next flush. Safe for concurrent use.
func (e *Engine) note(ev audit.Event) {
	e.amu.Lock()
	e.pending = append(e.pending, ev)
	e.amu.Unlock()
}

// noteDetail buffers an event with a JSON detail object.
func (e *Engine) noteDetail(kind, runID string, round int, actor, subject string, detail map[string]any) {
	b, err := json.Marshal(detail)
	if err != nil {
		e.log.Error("audit detail does not encode", "kind", kind, "err", err)
		b = nil
	}
	e.note(audit.Event{Kind: kind, RunID: runID, Round: round, Actor: actor, Subject: subject, Detail: b})
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

// floatsDigest is the SHA-256 of a vector's wire encoding, hashed through a
// small buffer (a model-sized copy per update would double the
// coordinator's peak memory).
func floatsDigest(v []float64) [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, 8*1024)
	for len(v) > 0 {
		n := min(len(v), cap(buf)/8)
		buf = protocol.AppendFloats(buf[:0], v[:n])
		h.Write(buf)
		v = v[n:]
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func hexDigest(d [32]byte) string { return hex.EncodeToString(d[:]) }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// refusalBurst bounds the site_refused events written per second, so a
// stream of bad handshakes cannot turn into a stream of fsyncs; the next
// event written counts the ones left out.
const refusalBurst = 10

// recordRefusal writes a refused TLS handshake to the audit log.
func (e *Engine) recordRefusal(peer string, err error) {
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
	e.Record(context.Background(), audit.Event{Kind: audit.KindSiteRefused, Actor: "unauthenticated", Subject: peer,
		Detail: mustJSON(map[string]any{"peer": peer, "reason": err.Error(), "suppressed_before": dropped})})
}
