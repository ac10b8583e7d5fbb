// Package site is the site (key-holder) side of Cohort's secure sum.
// Everything secret lives here: the Identity (HPKE X25519 private key,
// Ed25519 signing key), and per epoch the Party (RLWE secret key until the
// Shamir shares are sent, then only the aggregated threshold share).
// Nothing in this package returns secret material: its outputs are a
// signed public-key share, HPKE-sealed envelopes, signed contributions and
// signed, smudged decryption shares.
//
// A site's defences against a curious coordinator:
//
//   - it recomputes the collective public key from all members' signed
//     shares before encrypting under it (AcceptPublicKey);
//   - it opens only envelopes that authenticate (HPKE auth mode) as coming
//     from the claimed member for this run and epoch;
//   - it refuses to seal unclipped, NaN or infinite values, so the
//     overflow-freedom of the parameters holds;
//   - it decrypts only provable aggregates: ≥ MinClients distinct, signed
//     contributions of the round whose recomputed sum equals the aggregate
//     byte for byte; one aggregate per round; the same share for a repeated
//     request; at most MaxActiveSetsPerRound active sets per aggregate.
//
// Party methods are safe for concurrent use (they serialise on a lock).
// See package secagg for the protocol and threat model.
package site
