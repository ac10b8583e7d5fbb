package registry

import (
	"crypto/sha256"
)

// Domain-separation tags. Each ends in a NUL byte, which no tag contains
// otherwise, so no tag is a prefix of another and a message for one purpose
// can never be read as a message for another.
const (
	tagVersion     = "cohort.registry.version/v1\x00"
	tagCoordinator = "cohort.registry.coordinator/v1\x00"
	tagCoSign      = "cohort.registry.cosign/v1\x00"
	tagFingerprint = "cohort.registry.key/v1\x00"
	// mldsaContext is the FIPS 204 context string of coordinator ML-DSA-65
	// signatures.
	mldsaContext = "cohort.registry/v1"
)

// VersionHashOf returns the version hash of a model version:
//
//	SHA-256( "cohort.registry.version/v1" 0x00 ‖ canonicalCard ‖ paramsHash )
//
// where canonicalCard is Card.Canonical and paramsHash the SHA-256 of
// EncodeParams(params). The params hash has a fixed length at the end, so the
// encoding is unambiguous. It is the identity of a published version: sites
// co-sign it and the coordinator's signature covers it.
func VersionHashOf(canonicalCard []byte, paramsHash [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(tagVersion))
	h.Write(canonicalCard)
	h.Write(paramsHash[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// coordinatorDigest is what the coordinator's Ed25519 and ML-DSA-65 keys
// sign: the version hash bound to the signature suite, so that stripping the
// ML-DSA-65 signature and relabelling the suite breaks the Ed25519 signature.
func coordinatorDigest(suite string, versionHash [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(tagCoordinator))
	h.Write([]byte(suite))
	h.Write([]byte{0})
	h.Write(versionHash[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// coSignDigest is what a site's ECDSA key signs (as a SHA-256 digest). The
// tag keeps a co-signature from being confused with anything else a TLS key
// signs (TLS 1.3 CertificateVerify input starts with 64 spaces).
func coSignDigest(versionHash []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(tagCoSign))
	h.Write(versionHash)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
