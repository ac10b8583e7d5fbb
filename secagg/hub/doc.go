// Package hub is the coordinator side of Cohort's secure sum. It
// aggregates public-key shares (AggregatePublicKey), relays sealed
// Shamir-share envelopes (Relay), keeps the running homomorphic sum of a
// round (Accumulator) and finishes threshold decryption (Combine).
//
// The hub never holds secret-key material, by construction: no function
// here accepts or returns a secret key or Shamir share. It sees public-key
// shares, the collective public key, ciphertexts, smudged key-switch shares
// and HPKE ciphertexts it cannot open. This package does not import
// secagg/site, where all secrets live; TestNoSiteSecrets asserts it with
// `go list -deps`.
//
// Memory: Accumulator keeps one running sum (ceil(dim/N) ciphertexts) plus
// the accepted signed contributions, which the decryptors need as proof
// that the aggregate is a sum of at least MinClients inputs (see the
// package secagg documentation for the streaming alternative).
//
// Accumulator and Relay are safe for concurrent use. See package secagg
// for the protocol and threat model.
package hub
