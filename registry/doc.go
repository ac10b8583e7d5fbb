// Package registry publishes model versions as signed artifacts that anyone
// holding the federation's trust anchors can verify offline: a model card
// describing the version, the parameters, the coordinator's signature and a
// co-signature from every site that trained it.
//
// # Publishing
//
// The coordinator fills a Card from the run (architecture, data schema,
// training configuration, sites and their example counts, metrics, privacy
// spend, fairness gate outcome, explanations, audit-log head), binds it to
// the parameters and numbers it after the previous version of its line:
//
//	card.SetParams(params)   // params_sha256, model.num_params
//	card.Follow(parent)      // version by Next; parent_version, parent_version_hash
//	vh, err := card.VersionHash()
//
// Each site receives the card, checks it (CheckParams against the global
// model it holds, its run, round and example count, a plausible created_at),
// recomputes vh itself and co-signs it with its TLS key:
//
//	sig, err := registry.CoSign(tlsKey, vh[:])
//
// The coordinator collects CoSignature{Site, Certificate, Signature} from
// every listed site (checking each with VerifyCoSignature), then seals and
// exports:
//
//	signer, err := registry.LoadSigner("coordinator-signing.key")
//	a, err := registry.Seal(&card, params, signer, cosigs)
//	err = a.WriteFile("model.cohort.json")
//
// An auditor verifies with the CA certificate and the coordinator's public
// key file, and nothing else (no network, no database):
//
//	trust, err := registry.LoadTrust("ca.pem", "coordinator-signing.pub")
//	report, err := registry.VerifyFile("model.cohort.json", trust)
//	fmt.Print(report) // one line per check
//
// # Versions
//
// Versions are MAJOR.MINOR.PATCH. Next gives the rule: a changed interface
// (data schema, label, architecture, features, classes) bumps major; a new
// run or round with the same interface bumps minor; a re-publication of the
// same run with bit-identical parameters bumps patch. parent_version and
// parent_version_hash chain each version to the one before it.
//
// # Artifact file
//
// One JSON file, conventionally model.cohort.json:
//
//	{
//	  "format": "cohort.model-artifact/v1",
//	  "version_hash": "<hex SHA-256, see below>",
//	  "card": { "schema_version": "cohort.model-card/v1", "name": ..., ... },
//	  "coordinator": {
//	    "suite": "ed25519" | "ed25519+ml-dsa-65",
//	    "ed25519_public_key": "<base64, 32 bytes>",
//	    "ed25519_signature": "<base64, 64 bytes>",
//	    "ml_dsa_65_public_key": "<base64, 1952 bytes>",  (hybrid only)
//	    "ml_dsa_65_signature": "<base64, 3309 bytes>"    (hybrid only)
//	  },
//	  "cosignatures": [
//	    {"site": "site-a", "certificate": "-----BEGIN CERTIFICATE-----\n...", "signature": "<base64 ASN.1 ECDSA>"},
//	    ...
//	  ],
//	  "params": "<base64 of the little-endian float64 parameters>"
//	}
//
// The file is exactly what encoding/json's MarshalIndent (two-space indent)
// writes for these fields, plus a final newline; the card inside is the
// canonical card re-indented. Verify re-encodes what it parsed and requires
// the same bytes, so every byte of the file is significant: whitespace,
// base64 padding bits, key spelling, string escapes. The card's JSON field
// names are stable within cohort.model-card/v1.
//
// Card floating-point values are Float: NaN is written as null and ±Inf as
// the strings "+Inf" and "-Inf", since JSON has neither.
//
// # What is signed
//
// The canonical card C is encoding/json's compact encoding of the Card
// struct (declaration field order, sorted map keys, created_at in UTC); see
// Card.Canonical. P is the SHA-256 of the parameters' little-endian float64
// encoding, the same bytes and hash coordinator/store keeps. Then
//
//	version hash V = SHA-256("cohort.registry.version/v1" 0x00 ‖ C ‖ P)
//	coordinator    = Ed25519 and, if hybrid, ML-DSA-65 (context "cohort.registry/v1")
//	                 over SHA-256("cohort.registry.coordinator/v1" 0x00 ‖ suite ‖ 0x00 ‖ V)
//	site           = ECDSA P-256 with SHA-256 over
//	                 "cohort.registry.cosign/v1" 0x00 ‖ V
//
// The verifier recomputes C from the parsed card and also compares it with
// the bytes embedded in the file; it recomputes P from the parameters in the
// file and compares it with the card's params_sha256; it recomputes V and
// compares it with version_hash.
//
// What each signature proves:
//
//   - The coordinator signature: the holder of the coordinator signing key
//     published exactly this card and these parameters. The key is trusted
//     because the auditor's key file says so (Trust.CoordinatorKeys); the
//     key carried in the artifact must match it. The Ed25519 public key is a
//     standard PKIX key, so the consortium can also certify it with its CA
//     and distribute the public key file alongside ca.pem.
//   - The ML-DSA-65 signature (hybrid): the same, and it still holds if
//     Ed25519 is broken (by a quantum computer, say). When present both must
//     verify. If the trusted key is hybrid it is required. The suite name is
//     inside the signed digest, so stripping the ML-DSA-65 signature and
//     relabelling the artifact "ed25519" breaks the Ed25519 signature too.
//   - A site co-signature: the site whose CA-issued certificate has that
//     common name approved this exact version: card (including its own
//     entry in sites, the metrics and the privacy spend) and parameters. The
//     domain tag keeps it from being confused with a TLS handshake signature
//     made with the same key. Every site listed in the card must co-sign,
//     and no other may.
//
// Certificates are checked at the card's created_at, not at verification
// time, so a model keeps verifying after the certificates that co-signed it
// expire (site certificates are short-lived; models are not). created_at is
// covered by the coordinator signature and by every co-signature, and sites
// should refuse to co-sign a created_at far from their own clock.
//
// # Threat model
//
// Out of scope: confidentiality (the file holds the model and its metrics in
// clear), freshness (an old, validly signed version can be replayed; compare
// versions and follow parent_version_hash), and whether training was done
// correctly (signatures attest approval, not computation).
//
//   - Tampering with an artifact at rest or in transit: any change to the
//     file fails verification; see the tests, which flip bytes throughout.
//   - Coordinator key compromise: the attacker can sign any card and
//     parameters, but cannot attribute them to honest sites, whose
//     co-signatures it cannot make. It can still publish a card that lists
//     only sites it also controls; Trust.RequiredSites lets a consortium
//     demand its members. Recovery: generate a new signer, replace the key
//     in every trust file (removing the old key invalidates everything it
//     signed, so re-publish current models as patch versions). There is no
//     timestamping, so while the old key stays trusted, back-dated artifacts
//     signed with it verify.
//   - Site key compromise: the attacker can co-sign as that site, but a
//     publication still needs the coordinator's signature. Because chains
//     are checked at created_at, an expired site key stays useful to an
//     attacker who also holds the coordinator key. internal/pki has no
//     revocation; a lost site key means re-keying the consortium CA.
//   - Site collusion: the coordinator and the sites together can publish
//     anything; co-signatures bind them to it, which is the point. A single
//     honest site withholding its co-signature blocks any card that lists
//     it; with RequiredSites the coordinator cannot simply drop it from the
//     card.
//   - CA compromise: the attacker can mint site certificates, so together
//     with the coordinator key it can forge anything; alone it cannot.
//
// # Keys
//
// GenerateSigner makes an Ed25519 key, optionally with an ML-DSA-65 key for
// the hybrid suite (both from circl, wrapped here). Signer.Save writes a
// PEM file with mode 0600 (PKCS #8 Ed25519, readable by OpenSSL, plus the
// ML-DSA-65 seed); PublicKey.Save writes the distributable public key file.
// Nothing in this package overwrites an existing file. Site keys are the
// ECDSA P-256 TLS keys internal/pki issues.
package registry
