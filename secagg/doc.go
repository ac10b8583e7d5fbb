// Package secagg is Cohort's secure sum: sites encrypt fixed-point vectors
// under a collective threshold public key, the coordinator adds the
// ciphertexts, and any t of the n key-holding sites jointly decrypt the sum
// and nothing else. Lattigo v5 (package mhe) does the lattice work behind
// an internal package; no package outside secagg/ imports lattigo.
//
// The package is split by who holds what:
//
//   - secagg (this package): parameters, the per-epoch roster, the CRS
//     derivation, wire types and their signing digests. No secrets.
//   - secagg/site: everything a site holds — its RLWE secret key (only
//     during the ceremony), its Shamir shares and aggregated threshold
//     share, its HPKE private key and Ed25519 signing key.
//   - secagg/hub: everything the coordinator does — aggregate public-key
//     shares, relay sealed envelopes, keep the running ciphertext sum,
//     combine decryption shares. It never accepts or returns a secret key:
//     its inputs and outputs are public-key shares, the public key,
//     ciphertexts, smudged key-switch shares and HPKE-sealed opaque bytes.
//     Neither secagg nor secagg/hub imports secagg/site; a test in hub
//     checks this with `go list -deps`.
//
// All of it is pure computation, with no network or disk I/O.
//
// # Protocol
//
// Key epoch (once per run, or per key rotation):
//
//  1. Every party derives the CRS from CRS(runID, epoch) = SHA-256 of a
//     domain tag, the run id and the epoch number. The coordinator cannot
//     choose it.
//  2. Each site samples a secret key s_i and publishes a signed share
//     p_i = −a·s_i + e_i (site.NewParty, Party.PublicKeyShare). The hub
//     sums them (hub.AggregatePublicKey) into pk = (Σp_i, a) and sends pk
//     with all n signed shares to every site, which recomputes the sum
//     (Party.AcceptPublicKey): a hub that substituted its own key is caught.
//  3. Each site thresholdizes s_i with a random polynomial of degree t−1
//     (mhe.Thresholdizer) and sends the evaluation at point j+1 to member j,
//     sealed with HPKE auth mode (X25519, HKDF-SHA256, AES-128-GCM) and
//     bound to (run, epoch, from, to). The hub relays the envelopes
//     (hub.Relay) without being able to read them. Each site sums what it
//     receives into its threshold share (Party.OpenEnvelopes) and erases
//     s_i and its polynomial.
//
// Round:
//
//  4. Each site clips, then Party.Seal encodes and encrypts its vector
//     (coefficient encoding, N values per ciphertext) and signs run, epoch,
//     round, sender, dimension, a fresh 32-byte nonce and SHA-256 of the
//     ciphertexts with Ed25519.
//  5. hub.Accumulator.Add checks roster membership, binding, signature,
//     nonce freshness, one contribution per sender and ciphertext
//     well-formedness (exact size, metadata, every coefficient reduced), and
//     adds into one running sum.
//  6. At the deadline the hub picks t online sites (hub.ActiveSet) and
//     sends each the same DecryptRequest: the aggregate, the ordered active
//     set and the signed contributions. Each site enforces the
//     provable-aggregate rule (Party.DecryptShare): it verifies every
//     signature, distinctness and count ≥ MinClients, re-adds the
//     contributions and requires the result to equal the aggregate byte for
//     byte, and answers at most one aggregate per round. Then it Lagrange-
//     weights its Shamir share for the active set (mhe.Combiner) and returns
//     a key-switch share towards the zero key with smudging noise σ.
//  7. hub.Combine verifies the t signed shares, adds them to the aggregate
//     and decodes the sum.
//
// # Cost of the provable-aggregate rule, and the alternative
//
// Each decryptor downloads and re-adds the K contributions: K signature
// checks and K·ceil(dim/N) ciphertext parses and additions (≈0.36 ms per
// ciphertext, almost all parsing and checks; see MEASUREMENTS.md), and the
// hub must keep the K signed contributions until decryption (K × 128 KiB
// per 4096 values). The running sum is still incremental; the retained
// contributions are evidence, not work. Two alternatives: (a) the hub
// streams each accepted contribution to the decryptors as it arrives and
// keeps only receipts (Accumulator.Receipts), so its memory is O(1) in K
// and the decryptors verify incrementally; (b) the hub keeps nothing but
// receipts, and decryptors trust a sum they cannot check — rejected,
// because then a curious hub could ask to decrypt a single site's
// ciphertext. (a) is the planned transport shape; the checks are the same.
//
// # Threat model
//
// The coordinator is honest-but-curious and sees every message. It learns
// the public key, who contributed, the ciphertexts (semantically secure
// under RLWE), the decrypted sum of each round and the smudged decryption
// shares. It does not learn any single site's input: a site decrypts only
// sums of ≥ MinClients signed inputs of the current round, at most one
// aggregate per round (so the hub cannot decrypt two sums that differ by
// one input), and repeated requests for the same aggregate and active set
// get the cached share rather than fresh noise.
//
// Fewer than t colluding sites plus the hub learn nothing more: their
// Shamir shares of each s_i are uniformly distributed, and the decryption
// shares of honest sites are c1·s'_i + e_i with e_i of deviation σ ≥ 2^40,
// which statistically hides s'_i. They can make the protocol fail (a bad
// share gives a garbage sum, attributable through share signatures) but
// not decrypt. Colluding contributors can subtract their own inputs from a
// released sum, so MinClients must exceed the number of sites expected to
// collude by at least two for any honest input to stay hidden in a sum.
//
// t or more colluding sites hold the secret key: they can decrypt any
// ciphertext of the epoch, including a single site's contribution, before
// or without the deadline. Choose t above the largest coalition you are
// willing to trust, and rotate the epoch when membership changes.
//
// # Parameters
//
// DefaultCKKS is CKKS with N = 2^12, Q = 54+55 = 109 bits (the largest Q
// with 128-bit security at N = 2^12; NewParams rejects log Q above
// 54/109/218/438 for logN 11/12/13/14 since lattigo does not check), no
// key-switching modulus P (no relinearisation is ever needed), scale 2^70,
// σ = 2^40. DefaultBGV is the same ring with T ≈ 2^40.
//
// Smudging. A decryption share reveals c1·s'_i + e_i for a public c1. If
// e_i is small, an observer of shares recovers s'_i, and with it the key
// (the key-recovery attacks on threshold and approximate HE, e.g.
// Li–Micciancio 2021 and its threshold follow-ups, exploit exactly
// decryption results whose noise is not flooded). Noise flooding requires
// e_i to be statistically wider than the noise it hides: σ = 2^40 exceeds
// the noise of an aggregate (≈ 2^9 per fresh encryption, times √K) by about
// 2^30, a statistical distance of ≈ 2^-30 per released share. NewParams rejects σ < 2^40 unless Insecure is set,
// which exists only for measurements.
//
// Headroom. Values are fixed-point: CKKS multiplies by Δ, BGV by 2^f.
// Sums wrap around silently in both, so the scale is derived so that
// overflow is impossible for the declared Encoding (MaxParties K,
// ClipBound C), given that Seal refuses |v| > C, NaN and ±Inf:
//
//	CKKS: log2(K·(C·Δ + 1/2) + E) ≤ log2(Q) − 2,
//	      E = K·B_enc + K·B_smudge (worst-case noise bounds)
//	BGV:  K·(C·2^f + 1/2) < T/4  and  T/2 + T·E ≤ Q/4
//
// One bit is the sign (decoding is centred) and one is margin. With
// LogScale = 0 (CKKS) or FracBits = 0 (BGV) the largest scale that fits is
// chosen; an explicit one is checked. B_enc = 2·N·K·B + B bounds fresh
// public-key encryption noise (u·e_pk + e0 + e1·s with ternary u and s);
// B_smudge = 6·sqrt(σ_fresh² + σ²) is the truncation bound of lattigo's
// smudging sampler.
//
// Error. Params.ErrorBound gives the worst-case absolute error per
// coordinate: for CKKS (K/2 + K·B_enc + t·B_smudge)/Δ + 2·K·C·2^-53, i.e.
// ≈ 1.7e-8 for t = 3 and Δ = 2^70 regardless of K·C, whereas BGV is exact
// modulo T, leaving K·2^-(f+1): tiny for small K·C but 0.03 for K = 1024,
// C = 10^4 at T ≈ 2^40.
//
// Multi-prime CKKS decoding goes through lattigo's big-integer CRT path;
// the encoder is built with precision 53 so that the scale above 2^64 does
// not also switch encoding to big.Float arithmetic.
//
// # Usage
//
// The tests in this directory (secagg_test.go) run the whole protocol in
// memory; internal/secaggtest.NewCluster is the ceremony in 60 lines.
package secagg
