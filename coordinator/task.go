package coordinator

import (
	"time"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
)

// Task is one instruction to one site. The transport turns it into a
// cohort.v1.Task on the site's Connect stream (gRPC) or a direct call (simulation).
type Task struct {
	RunID        string
	Round        int
	Phase        Phase
	Nonce        []byte
	ModelVersion int
	NumParams    int
	Deadline     time.Time
	Config       protocol.TaskConfig
	Done         bool // the run is over; the site may disconnect
	// Blob names a payload the site downloads before executing the task
	// (key-ceremony material, a decrypt request), of BlobBytes bytes.
	Blob      string
	BlobBytes int
}

// Dispatcher delivers tasks to connected sites. It is the engine's only way to
// reach a site: the coordinator never dials a site, so a gRPC Dispatcher writes
// to the site's open Connect stream.
//
// Implementations must be safe for concurrent use and Dispatch must not block on
// the network: it queues the task or fails at once (for example when the site's
// queue is full or the site is gone), and the engine then drops the site from
// the round.
type Dispatcher interface {
	// Connected returns the names of the sites that can receive tasks now.
	Connected() []string
	// Dispatch queues t for site.
	Dispatch(site string, t Task) error
}

// FitResult is a site's answer to a fit task, after the transport decoded it.
// Delta is borrowed: the engine does not retain it after SubmitFit returns.
type FitResult struct {
	NumExamples int64
	// Delta is the update: aggregation.Values in memory, or a spooled
	// upload read chunk by chunk (it is read while SubmitFit runs, never
	// after).
	Delta   aggregation.Vector
	Metrics map[string]float64
	// Digest is the SHA-256 of Delta's wire encoding if the transport
	// computed it (required unless Delta is aggregation.Values), and Signature the site's signature over it (see
	// protocol.UpdateSigningDigest); both go into the audit log.
	Digest    *[32]byte
	Signature []byte
	Nonce     []byte // the task nonce the signature covers
}

// EvalResult is a site's answer to an evaluate task: summable counts.
type EvalResult = model.Counts
