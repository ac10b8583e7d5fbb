package coordinator

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// ErrSiteQueueFull is returned by Dispatch when a site does not drain its task queue.
var ErrSiteQueueFull = errors.New("coordinator: site task queue full")

// siteQueue is the task queue of one connected site.
type siteQueue struct {
	tasks       chan Task
	numExamples int64
	since       time.Time
	gen         uint64
}

// Registry is the Dispatcher of a gRPC coordinator: it holds one task queue per
// site with an open Connect stream. Safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	sites    map[string]*siteQueue
	lastSeen map[string]time.Time
	gen      uint64
	onGone   func(site string)
	// OnCount, if set, is called with the number of connected sites whenever
	// it changes (the coordinator feeds its cohort_connected_sites gauge).
	OnCount func(n int)
}

// NewRegistry returns an empty registry. onGone (may be nil) is called when a
// site's stream ends.
func NewRegistry(onGone func(site string)) *Registry {
	return &Registry{sites: map[string]*siteQueue{}, lastSeen: map[string]time.Time{}, onGone: onGone}
}

// attach registers site's stream, replacing any earlier stream of the same site.
// The returned detach function must be called when the stream ends.
func (r *Registry) attach(site string, numExamples int64) (<-chan Task, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.sites[site]; ok {
		close(old.tasks)
	}
	r.gen++
	q := &siteQueue{tasks: make(chan Task, 8), numExamples: numExamples, since: time.Now(), gen: r.gen}
	r.sites[site] = q
	r.lastSeen[site] = time.Now()
	if r.OnCount != nil {
		r.OnCount(len(r.sites))
	}
	return q.tasks, func() {
		r.mu.Lock()
		cur, ok := r.sites[site]
		if ok && cur.gen == q.gen {
			delete(r.sites, site)
			close(q.tasks)
			if r.OnCount != nil {
				r.OnCount(len(r.sites))
			}
		}
		r.lastSeen[site] = time.Now()
		r.mu.Unlock()
		if ok && cur.gen == q.gen && r.onGone != nil {
			r.onGone(site)
		}
	}
}

// Connected implements Dispatcher.
func (r *Registry) Connected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.sites))
	for s := range r.sites {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Dispatch implements Dispatcher; it never blocks.
func (r *Registry) Dispatch(site string, t Task) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.sites[site]
	if !ok {
		return fmt.Errorf("coordinator: site %q is not connected", site)
	}
	select {
	case q.tasks <- t:
		return nil
	default:
		return fmt.Errorf("%w: %q", ErrSiteQueueFull, site)
	}
}

// SiteStatus describes a known site.
type SiteStatus struct {
	Name        string
	Connected   bool
	NumExamples int64
	LastSeen    time.Time
}

// Sites lists every site seen since the coordinator started.
func (r *Registry) Sites() []SiteStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SiteStatus
	for name, seen := range r.lastSeen {
		st := SiteStatus{Name: name, LastSeen: seen}
		if q, ok := r.sites[name]; ok {
			st.Connected, st.NumExamples, st.LastSeen = true, q.numExamples, time.Now()
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
