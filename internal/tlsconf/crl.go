package tlsconf

import (
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
)

const whatCRL = "revocation list"

// CRLChecker is a RevocationChecker backed by a revocation list file signed by
// the consortium CA (`cohort provision revoke` writes one). It re-reads the
// file whenever its modification time or size changes, checked on every
// handshake and on Refresh, so revoking a certificate needs no restart.
//
// The handshake check (CheckRevocation) fails closed: while the file is
// missing, unreadable, not signed by the CA, older than the list already
// loaded (a lower CRL number), or past its NextUpdate, every certificate is
// refused with an error wrapping ErrCRLUnusable that says why. CheckKnown,
// for connections already open, uses the last good list instead, so that a
// moment's bad file does not cut every site off in the middle of a round.
//
// A CRLChecker is safe for concurrent use.
type CRLChecker struct {
	path    string
	issuers []*x509.Certificate
	now     func() time.Time

	mu      sync.Mutex
	stamp   fileStamp
	list    *pki.RevocationList // last good list
	err     error               // why the file cannot be used now; nil when list is in force
	changed chan struct{}
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewCRLChecker loads the revocation list in crlFile and verifies it against
// the CA certificates in caFile (the same file as the bundle's --ca). It fails
// if the list cannot be used now (see CRLChecker), with a *FileError naming
// the file. Of the options, only WithClock applies.
func NewCRLChecker(crlFile, caFile string, opts ...Option) (*CRLChecker, error) {
	o := buildOptions(opts)
	caCerts, err := readCerts(whatCA, caFile)
	if err != nil {
		return nil, err
	}
	var issuers []*x509.Certificate
	for _, c := range caCerts {
		if c.IsCA {
			issuers = append(issuers, c)
		}
	}
	c := &CRLChecker{path: crlFile, issuers: issuers, now: o.now, changed: make(chan struct{})}
	if _, _, err := c.Refresh(); err != nil {
		return nil, err
	}
	if err := c.usable(); err != nil {
		return nil, &FileError{What: whatCRL, Path: crlFile, Err: err}
	}
	return c, nil
}

// Path returns the revocation list file.
func (c *CRLChecker) Path() string { return c.path }

// List returns the list in force (the last good one).
func (c *CRLChecker) List() *pki.RevocationList {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.list
}

// Changed returns a channel closed the next time Refresh loads a new list or
// finds the file unusable. Call it again for the following change.
func (c *CRLChecker) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Refresh re-reads the file if it changed since the last read (or if the last
// read failed). It reports whether the state changed, the list in force, and
// the error that makes the file unusable now (nil if it is usable).
func (c *CRLChecker) Refresh() (list *pki.RevocationList, changed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, statErr := os.Stat(c.path)
	if statErr == nil && c.err == nil && c.list != nil && c.stamp == (fileStamp{fi.ModTime(), fi.Size()}) {
		return c.list, false, nil
	}
	var newErr error
	var l *pki.RevocationList
	if statErr != nil {
		newErr = &FileError{What: whatCRL, Path: c.path, Err: statErr}
	} else {
		c.stamp = fileStamp{fi.ModTime(), fi.Size()}
		var data []byte
		if data, newErr = os.ReadFile(c.path); newErr == nil {
			l, newErr = pki.ParseRevocationList(data, c.issuers...)
		}
		if newErr != nil {
			newErr = &FileError{What: whatCRL, Path: c.path, Err: newErr}
		} else if c.list != nil && l.Number().Cmp(c.list.Number()) < 0 {
			newErr = &FileError{What: whatCRL, Path: c.path, Err: fmt.Errorf("%w: number %d is lower than number %d already loaded (an older list copied over a newer one?)",
				pki.ErrBadCRL, l.Number(), c.list.Number())}
			l = nil
		}
	}
	switch {
	case newErr != nil:
		changed = c.err == nil || c.err.Error() != newErr.Error()
		c.err = newErr
	default:
		changed = c.err != nil || c.list == nil || l.Number().Cmp(c.list.Number()) != 0
		c.list, c.err = l, nil
	}
	if changed {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	return c.list, changed, c.err
}

// usable returns why the file cannot be used to accept a new connection now.
func (c *CRLChecker) usable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return c.list.CheckFresh(c.now())
}

// CheckRevocation implements RevocationChecker for handshakes: it refreshes
// the list and refuses leaf if it is revoked, or any certificate while the
// list is unusable (see CRLChecker).
func (c *CRLChecker) CheckRevocation(leaf *x509.Certificate, _ []*x509.Certificate) error {
	_, _, _ = c.Refresh()
	if err := c.usable(); err != nil {
		return fmt.Errorf("%w, so no certificate is accepted: %w", ErrCRLUnusable, err)
	}
	return c.CheckKnown(leaf)
}

// CheckKnown returns an error wrapping ErrRevoked if the list in force (the
// last good one) revokes leaf. It neither reads the file nor checks the
// list's dates: use it for connections already open (see CRLChecker).
func (c *CRLChecker) CheckKnown(leaf *x509.Certificate) error {
	l := c.List()
	if l == nil {
		return nil
	}
	r, ok := l.Lookup(leaf.SerialNumber)
	if !ok {
		return nil
	}
	why := ""
	if r.Reason != 0 {
		why = ", reason " + pki.ReasonName(r.Reason)
	}
	return fmt.Errorf("%w: %s was revoked at %s%s (revocation list %s, number %d)",
		ErrRevoked, describe(leaf), stamp(r.RevokedAt), why, c.path, l.Number())
}
