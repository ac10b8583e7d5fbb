package bench

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
)

// coordinatorName is the common name of the benchmark coordinator's certificate.
const coordinatorName = "coordinator"

// federation is an ephemeral PKI in a temporary directory: a CA, a server
// certificate for 127.0.0.1 and one client certificate per site, each loaded
// through internal/tlsconf exactly as `cohort coordinator serve` and
// `cohort client run` load theirs.
type federation struct {
	dir    string
	server *tls.Config
	sites  []string
	// client holds the TLS configuration of each site, by name.
	client map[string]*tls.Config
}

// newFederation provisions dir with bundles for the coordinator and for sites
// site-0 … site-(n−1).
func newFederation(dir string, n int) (*federation, error) {
	ca, err := pki.NewCA("cohort-bench-ca", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	issue := func(name string, role pki.Role, ips []net.IP) error {
		return ca.IssueBundle(dir, name, role, ips, 24*time.Hour)
	}
	if err := issue(coordinatorName, pki.Server, []net.IP{net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, err
	}
	caF, certF, keyF := pki.BundleFiles(dir, coordinatorName)
	srv, err := tlsconf.ServerConfig(certF, keyF, caF)
	if err != nil {
		return nil, err
	}
	f := &federation{dir: dir, server: srv, client: make(map[string]*tls.Config, n)}
	for i := range n {
		name := fmt.Sprintf("site-%d", i)
		if err := issue(name, pki.Client, nil); err != nil {
			return nil, fmt.Errorf("bench: certificate for %s: %w", name, err)
		}
		caF, certF, keyF := pki.BundleFiles(dir, name)
		c, err := tlsconf.ClientConfig(certF, keyF, caF, "127.0.0.1")
		if err != nil {
			return nil, err
		}
		f.sites = append(f.sites, name)
		f.client[name] = c
	}
	return f, nil
}

// serverFiles returns the coordinator's CA, certificate and key files.
func (f *federation) serverFiles() (caFile, certFile, keyFile string) {
	return pki.BundleFiles(f.dir, coordinatorName)
}
