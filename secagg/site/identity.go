package site

import (
	"crypto/rand"
	"fmt"

	"github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/sign/ed25519"
	"github.com/cohortfl/cohort/secagg"
)

const kemID = hpke.KEM_X25519_HKDF_SHA256

// suite is the HPKE suite for Shamir-share envelopes: X25519, HKDF-SHA256,
// AES-128-GCM, used in auth mode so the recipient knows the sender.
var suite = hpke.NewSuite(kemID, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES128GCM)

// Identity is a site's long-term key pair set: an HPKE (X25519) key for
// receiving Shamir shares and an Ed25519 key for signing. It never leaves
// the site; only Public() does.
type Identity struct {
	kemPriv kem.PrivateKey
	kemPub  kem.PublicKey
	signKey ed25519.PrivateKey
	public  secagg.PublicIdentity
}

// NewIdentity generates a fresh identity from crypto/rand.
func NewIdentity() (*Identity, error) {
	pub, priv, err := kemID.Scheme().GenerateKeyPair()
	if err != nil {
		return nil, fmt.Errorf("site: generate HPKE key: %w", err)
	}
	kemPub, err := pub.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("site: encode HPKE key: %w", err)
	}
	vk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("site: generate Ed25519 key: %w", err)
	}
	return &Identity{
		kemPriv: priv,
		kemPub:  pub,
		signKey: sk,
		public:  secagg.PublicIdentity{KEM: kemPub, Verify: append([]byte(nil), vk...)},
	}, nil
}

// Public returns the public half, to be bound into the site's certificate.
func (id *Identity) Public() secagg.PublicIdentity {
	return secagg.PublicIdentity{KEM: append([]byte(nil), id.public.KEM...), Verify: append([]byte(nil), id.public.Verify...)}
}

func (id *Identity) sign(d [32]byte) []byte { return ed25519.Sign(id.signKey, d[:]) }
