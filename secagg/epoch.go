package secagg

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// PublicIdentity is the public half of a site's long-term identity: an
// X25519 HPKE public key (for receiving Shamir shares) and an Ed25519
// verification key (for contributions, key shares and decryption shares).
// The lead binds both into the site's certificate.
type PublicIdentity struct {
	KEM    []byte // 32-byte X25519 public key
	Verify []byte // 32-byte Ed25519 public key
}

// Equal reports whether two identities are the same.
func (p PublicIdentity) Equal(o PublicIdentity) bool {
	return string(p.KEM) == string(o.KEM) && string(p.Verify) == string(o.Verify)
}

// Member is one key-holding site of an epoch.
type Member struct {
	ID     string
	Public PublicIdentity
}

// Epoch describes one key ceremony: who holds key shares, the decryption
// threshold and the minimum number of distinct contributions a site will
// help decrypt. Member i holds Shamir point i+1; the order is part of the
// epoch and must be identical at every party.
type Epoch struct {
	RunID      string
	Epoch      uint64
	Members    []Member
	Threshold  int // t: decryption shares needed, 1 < t ≤ len(Members)
	MinClients int // smallest sum a site will help decrypt, ≥ 2
}

// Validate checks the epoch.
func (e Epoch) Validate() error {
	n := len(e.Members)
	if e.RunID == "" {
		return fmt.Errorf("%w: empty run id", ErrBadEpoch)
	}
	if e.Threshold <= 1 || e.Threshold > n {
		return fmt.Errorf("%w: threshold t=%d with n=%d members, need 1 < t ≤ n", ErrBadEpoch, e.Threshold, n)
	}
	if e.MinClients < 2 {
		return fmt.Errorf("%w: MinClients=%d, need ≥ 2 so no single input is ever decrypted", ErrBadEpoch, e.MinClients)
	}
	seen := make(map[string]bool, n)
	for i, m := range e.Members {
		if m.ID == "" {
			return fmt.Errorf("%w: member %d has an empty id", ErrBadEpoch, i)
		}
		if seen[m.ID] {
			return fmt.Errorf("%w: duplicate member %q", ErrBadEpoch, m.ID)
		}
		seen[m.ID] = true
		if len(m.Public.KEM) != 32 || len(m.Public.Verify) != 32 {
			return fmt.Errorf("%w: member %q has malformed public keys (KEM %d bytes, Verify %d bytes; want 32/32)", ErrBadEpoch, m.ID, len(m.Public.KEM), len(m.Public.Verify))
		}
	}
	return nil
}

// Index returns the position of member id, or -1.
func (e Epoch) Index(id string) int {
	return slices.IndexFunc(e.Members, func(m Member) bool { return m.ID == id })
}

// CRSSeed seeds the common reference polynomial of a key epoch.
type CRSSeed [32]byte

// CRS derives the common reference string of a key epoch from the run and
// epoch ids alone: SHA-256("cohort/secagg/crs/v1" ‖ len(run) ‖ run ‖ epoch).
// Every party computes it locally, so the coordinator cannot choose it.
func CRS(runID string, epoch uint64) CRSSeed {
	h := sha256.New()
	h.Write([]byte("cohort/secagg/crs/v1"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(runID)))
	h.Write(b[:])
	h.Write([]byte(runID))
	binary.BigEndian.PutUint64(b[:], epoch)
	h.Write(b[:])
	var s CRSSeed
	copy(s[:], h.Sum(nil))
	return s
}
