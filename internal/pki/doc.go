// Package pki is Cohort's small certificate authority. It issues the per-site
// and coordinator certificates that internal/tlsconf uses for mutual TLS.
//
// One federation has one CA. The coordinator holds a Server certificate (the
// serverAuth extended key usage and the DNS names or IP addresses sites dial);
// every site, and the operator's CLI, holds a Client certificate (clientAuth)
// whose subject common name is its identity on the wire. A certificate may carry
// both roles (Server|Client) when one process plays both parts, for example in
// a single-machine demo.
//
// Typical use, from tests, the demo walkthrough or `cohort provision`:
//
//	ca, err := pki.NewCA("Example federation CA", 5*365*24*time.Hour)
//	...
//	if err := ca.Save("pki/ca"); err != nil { ... }          // ca.pem, ca-key.pem (0600)
//	cert, key, err := ca.Issue("site-a", pki.Client, nil, nil, 365*24*time.Hour)
//	...
//	err = pki.WriteBundle("pki/site-a", "site-a", ca.CertPEM(), cert, key)
//	// pki/site-a/ca.pem, pki/site-a/site-a.pem, pki/site-a/site-a-key.pem (0600)
//
// Later, LoadCA("pki/ca") reopens the CA to add a site without re-issuing (or
// touching) any existing bundle, so partners already provisioned keep working.
// Nothing in this package overwrites an existing key or certificate file.
//
// Keys are ECDSA P-256 drawn from crypto/rand. The package never logs, and a
// *CA formats as its subject only, so a CA printed by mistake does not leak its
// private key.
package pki
