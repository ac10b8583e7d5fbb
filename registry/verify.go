package registry

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cloudflare/circl/sign/ed25519"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// Names of the checks Verify runs, in the order it reports them. Each site
// co-signature is one more check, named CheckCoSignaturePrefix + site.
const (
	CheckArtifact          = "artifact"              // parses, known format, byte-for-byte canonical encoding
	CheckCard              = "card"                  // parses strictly, valid, embedded bytes are the canonical form
	CheckParams            = "params"                // params length and SHA-256 match the card
	CheckVersionHash       = "version_hash"          // recorded version hash equals the recomputed one
	CheckCoordinatorKey    = "coordinator.key"       // carried key matches a trusted coordinator key
	CheckEd25519           = "coordinator.ed25519"   // Ed25519 signature
	CheckMLDSA65           = "coordinator.ml-dsa-65" // ML-DSA-65 signature: valid if present, present if trust requires
	CheckCoSignaturePrefix = "cosignature/"          // one per co-signature: chain at created_at, name, signature
	CheckSitesComplete     = "sites.complete"        // every site in the card co-signed
	CheckSitesExpected     = "sites.expected"        // no co-signature from an unlisted site, none twice
	CheckSitesRequired     = "sites.required"        // every site the trust requires is in the card and co-signed
)

// Trust is what an auditor holds to verify artifacts offline.
type Trust struct {
	// CoordinatorKeys are the coordinator public keys accepted (several
	// during a key rotation). An artifact must carry one of them; if that
	// key is hybrid, the ML-DSA-65 signature is required.
	CoordinatorKeys []PublicKey
	// CAPool holds the consortium CA certificate(s) that site certificates
	// must chain to.
	CAPool *x509.CertPool
	// RequiredSites, if set, must all appear in the card and co-sign: a
	// consortium's policy that no model is published without them.
	RequiredSites []string
}

// Validate reports, wrapping ErrInvalidTrust, whether t cannot verify
// anything.
func (t *Trust) Validate() error {
	if len(t.CoordinatorKeys) == 0 {
		return fmt.Errorf("%w: no coordinator key", ErrInvalidTrust)
	}
	for i, k := range t.CoordinatorKeys {
		if k.IsZero() {
			return fmt.Errorf("%w: coordinator key %d is empty", ErrInvalidTrust, i)
		}
	}
	if t.CAPool == nil {
		return fmt.Errorf("%w: no CA pool", ErrInvalidTrust)
	}
	for _, s := range t.RequiredSites {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%w: empty required site name", ErrInvalidTrust)
		}
	}
	return nil
}

// find returns the trusted key with the same Ed25519 part as k.
func (t *Trust) find(k PublicKey) (PublicKey, bool) {
	for _, tk := range t.CoordinatorKeys {
		if bytes.Equal(tk.ed, k.ed) {
			return tk, true
		}
	}
	return PublicKey{}, false
}

// LoadTrust reads the consortium CA certificate file (one or more PEM
// certificates, for example pki's ca.pem) and the coordinator public key
// files (see PublicKey.Save).
func LoadTrust(caFile string, coordinatorKeyFiles ...string) (Trust, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return Trust{}, fmt.Errorf("registry: load trust: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return Trust{}, fmt.Errorf("%w: %s: unexpected PEM block %q", ErrInvalidTrust, caFile, b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return Trust{}, fmt.Errorf("%w: %s: %w", ErrInvalidTrust, caFile, err)
		}
		if !cert.IsCA {
			return Trust{}, fmt.Errorf("%w: %s: %q is not a CA certificate", ErrInvalidTrust, caFile, cert.Subject.CommonName)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return Trust{}, fmt.Errorf("%w: %s holds no PEM certificate", ErrInvalidTrust, caFile)
	}
	t := Trust{CAPool: pool}
	for _, f := range coordinatorKeyFiles {
		k, err := LoadPublicKey(f)
		if err != nil {
			return Trust{}, err
		}
		t.CoordinatorKeys = append(t.CoordinatorKeys, k)
	}
	if err := t.Validate(); err != nil {
		return Trust{}, err
	}
	return t, nil
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name   string // CheckArtifact, ..., or CheckCoSignaturePrefix + site
	OK     bool
	Detail string // what was checked, or what was wrong
}

// Report is the outcome of Verify: every check it ran, in order. OK is true
// only if every check passed.
type Report struct {
	OK          bool
	Card        *Card  // the parsed card, nil if it could not be parsed; trust it only if OK
	VersionHash string // hex version hash recomputed from card and params; "" if not computed
	Checks      []CheckResult
}

func (r *Report) add(name string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, CheckResult{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// finish sets OK and returns r with its error.
func (r *Report) finish() (*Report, error) {
	r.OK = len(r.Checks) > 0
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
	return r, r.Err()
}

// Err returns nil if the report is OK, else a *CheckError for the first
// failed check.
func (r *Report) Err() error {
	for _, c := range r.Checks {
		if !c.OK {
			return &CheckError{Check: c.Name, Detail: c.Detail}
		}
	}
	if len(r.Checks) == 0 {
		return &CheckError{Check: CheckArtifact, Detail: "nothing was checked"}
	}
	return nil
}

// String formats the report one check per line, "ok" or "FAIL", the check
// name and the detail, for a CLI to print.
func (r *Report) String() string {
	w := 0
	for _, c := range r.Checks {
		w = max(w, len(c.Name))
	}
	var b strings.Builder
	for _, c := range r.Checks {
		status := "ok"
		if !c.OK {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "%-4s  %-*s  %s\n", status, w, c.Name, c.Detail)
	}
	return b.String()
}

// VerifyFile reads the artifact at path and verifies it (see Verify).
func VerifyFile(path string, trust Trust) (*Report, error) {
	if err := trust.Validate(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: verify: %w", err)
	}
	return Verify(data, trust)
}

// Verify checks an artifact file offline against trust: everything listed
// under the Check* constants, in that order. It returns a nil Report only
// when verification could not start (an invalid Trust, wrapping
// ErrInvalidTrust). Otherwise the Report lists every check that ran (it
// stops early only when the file or its card cannot be parsed at all), and
// the error is nil if all passed, else a *CheckError for the first failure,
// wrapping ErrVerification.
func Verify(data []byte, trust Trust) (*Report, error) {
	if err := trust.Validate(); err != nil {
		return nil, err
	}
	r := &Report{}
	aj, err := decodeArtifact(data)
	if err != nil {
		r.add(CheckArtifact, false, "%v", err)
		return r.finish()
	}
	if re, err := encodeArtifact(aj); err != nil || !bytes.Equal(re, data) {
		r.add(CheckArtifact, false, "the file is not the canonical encoding of its own contents: it was altered after export")
	} else {
		r.add(CheckArtifact, true, "%s, canonical encoding", ArtifactFormat)
	}

	card, canon, canonical, err := parseEmbeddedCard(aj.Card)
	if err != nil {
		r.add(CheckCard, false, "%v", err)
		return r.finish()
	}
	r.Card = card
	if canonical {
		r.add(CheckCard, true, "%s %s %s, canonical form", card.SchemaVersion, card.Name, card.Version)
	} else {
		r.add(CheckCard, false, "the embedded card is not byte-for-byte its canonical form")
	}

	ph := sha256.Sum256(aj.Params)
	switch got := hex.EncodeToString(ph[:]); {
	case !paramsLenMatches(aj.Params, card.Model.NumParams):
		r.add(CheckParams, false, "%d bytes of params, want 8 × num_params = %d", len(aj.Params), 8*card.Model.NumParams)
	case got != card.ParamsSHA256:
		r.add(CheckParams, false, "params hash to %s, card says %s", got, card.ParamsSHA256)
	default:
		r.add(CheckParams, true, "%d params, sha256 %s", card.Model.NumParams, got)
	}

	vh := VersionHashOf(canon, ph)
	r.VersionHash = hex.EncodeToString(vh[:])
	if aj.VersionHash == r.VersionHash {
		r.add(CheckVersionHash, true, "%s", r.VersionHash)
	} else {
		r.add(CheckVersionHash, false, "file records %q, card and params hash to %s", aj.VersionHash, r.VersionHash)
	}

	verifyCoordinator(r, &trust, &aj.Coordinator, vh)
	verifySites(r, &trust, card, aj.CoSignatures, vh)
	return r.finish()
}

func verifyCoordinator(r *Report, trust *Trust, c *coordinatorJSON, vh [32]byte) {
	pk, keyErr := newPublicKey(c.Ed25519PublicKey, c.MLDSA65PublicKey)
	tk, trusted := trust.find(pk)
	switch {
	case keyErr != nil:
		r.add(CheckCoordinatorKey, false, "%v", keyErr)
	case !trusted:
		r.add(CheckCoordinatorKey, false, "key %s is not a trusted coordinator key", pk.Fingerprint())
	case tk.Hybrid() && !pk.Hybrid():
		r.add(CheckCoordinatorKey, false, "the trusted key %s is hybrid but the artifact carries no ML-DSA-65 key", tk.Fingerprint())
	case tk.Hybrid() && !tk.ml.Equal(pk.ml):
		r.add(CheckCoordinatorKey, false, "the ML-DSA-65 key differs from the trusted key %s", tk.Fingerprint())
	case pk.Hybrid() && !tk.Hybrid():
		r.add(CheckCoordinatorKey, true, "trusted Ed25519 key %s (its ML-DSA-65 key is not pinned by the trust file)", tk.Fingerprint())
	default:
		r.add(CheckCoordinatorKey, true, "trusted key %s", tk)
	}

	d := coordinatorDigest(c.Suite, vh)
	switch {
	case c.Suite != SuiteEd25519 && c.Suite != SuiteHybrid:
		r.add(CheckEd25519, false, "unknown signature suite %q", c.Suite)
	case len(c.Ed25519PublicKey) != ed25519.PublicKeySize:
		r.add(CheckEd25519, false, "no usable Ed25519 public key")
	case !ed25519.Verify(ed25519.PublicKey(c.Ed25519PublicKey), d[:], c.Ed25519Signature):
		r.add(CheckEd25519, false, "signature does not verify (suite %s)", c.Suite)
	default:
		r.add(CheckEd25519, true, "valid (suite %s)", c.Suite)
	}

	required := trusted && tk.Hybrid()
	switch c.Suite {
	case SuiteHybrid:
		switch {
		case keyErr != nil || pk.ml == nil:
			r.add(CheckMLDSA65, false, "suite %s but no usable ML-DSA-65 public key", c.Suite)
		case len(c.MLDSA65Signature) != mldsa65.SignatureSize:
			r.add(CheckMLDSA65, false, "suite %s but the ML-DSA-65 signature has %d bytes, want %d", c.Suite, len(c.MLDSA65Signature), mldsa65.SignatureSize)
		case !mldsa65.Verify(pk.ml, d[:], []byte(mldsaContext), c.MLDSA65Signature):
			r.add(CheckMLDSA65, false, "signature does not verify")
		default:
			r.add(CheckMLDSA65, true, "valid")
		}
	case SuiteEd25519:
		switch {
		case c.MLDSA65PublicKey != nil || c.MLDSA65Signature != nil:
			r.add(CheckMLDSA65, false, "ML-DSA-65 material present but the suite is %s", c.Suite)
		case required:
			r.add(CheckMLDSA65, false, "absent, but the trusted coordinator key is hybrid: an ML-DSA-65 signature is required")
		default:
			r.add(CheckMLDSA65, true, "not used (Ed25519-only key)")
		}
	default:
		r.add(CheckMLDSA65, false, "unknown signature suite %q", c.Suite)
	}
}

func verifySites(r *Report, trust *Trust, card *Card, cosigs []coSigJSON, vh [32]byte) {
	listed := make(map[string]bool, len(card.Sites))
	for _, s := range card.Sites {
		listed[s.Name] = true
	}
	count := map[string]int{}
	valid := map[string]bool{}
	at := card.CreatedAt
	for _, cs := range cosigs {
		name := CheckCoSignaturePrefix + cs.Site
		count[cs.Site]++
		site, err := VerifyCoSignature([]byte(cs.Certificate), cs.Signature, vh[:], trust.CAPool, at)
		switch {
		case err != nil:
			r.add(name, false, "%v", err)
		case site != cs.Site:
			r.add(name, false, "signed with the certificate of %q", site)
		case !listed[cs.Site]:
			r.add(name, false, "valid signature, but %q is not listed in the card", cs.Site)
		default:
			valid[cs.Site] = true
			r.add(name, true, "certificate chains to the consortium CA at created_at %s; signature valid", at.UTC().Format(time.RFC3339))
		}
	}

	var missing []string
	for _, s := range card.Sites {
		if count[s.Name] == 0 {
			missing = append(missing, s.Name)
		}
	}
	if len(missing) > 0 {
		r.add(CheckSitesComplete, false, "no co-signature from %s", strings.Join(quoteAll(missing), ", "))
	} else {
		r.add(CheckSitesComplete, true, "all %d sites in the card co-signed", len(card.Sites))
	}

	var unexpected, twice []string
	for s, n := range count {
		if !listed[s] {
			unexpected = append(unexpected, s)
		}
		if n > 1 {
			twice = append(twice, s)
		}
	}
	slices.Sort(unexpected)
	slices.Sort(twice)
	switch {
	case len(unexpected) > 0:
		r.add(CheckSitesExpected, false, "co-signature from %s, not listed in the card", strings.Join(quoteAll(unexpected), ", "))
	case len(twice) > 0:
		r.add(CheckSitesExpected, false, "more than one co-signature from %s", strings.Join(quoteAll(twice), ", "))
	default:
		r.add(CheckSitesExpected, true, "no unexpected signer")
	}

	var absent []string
	for _, s := range trust.RequiredSites {
		if !valid[s] {
			absent = append(absent, s)
		}
	}
	switch {
	case len(trust.RequiredSites) == 0:
		r.add(CheckSitesRequired, true, "the trust requires no particular site")
	case len(absent) > 0:
		r.add(CheckSitesRequired, false, "required site %s did not validly co-sign", strings.Join(quoteAll(absent), ", "))
	default:
		r.add(CheckSitesRequired, true, "all %d required sites co-signed", len(trust.RequiredSites))
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
