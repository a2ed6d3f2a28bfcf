package code

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
)

// Why HMAC-SHA256 under a server key and not plain SHA-256: a code has only 60
// bits. With an unkeyed hash, whoever reads the database (a backup, a
// PostgreSQL standby, a stolen disk) can test guesses offline at GPU speed,
// and one pass over 2^60 candidates recovers every stored code at once; a long-
// lived revocation code gives that search time to finish. Keyed with a secret
// that lives beside the CA's config and never in the database, the stored
// hashes are useless without the key, and online guessing stays bound by the
// per-order lock and the per-address rate limit. The cost is that every
// replica needs the same key, and rotating it voids codes still pending,
// which live minutes.

// KeySize is the size of a Hasher key.
const KeySize = 32

// DigestSize is the size of a stored code hash.
const DigestSize = sha256.Size

// ErrKey reports a Hasher key of the wrong size.
var ErrKey = errors.New("code: hash key must be 32 bytes")

// Hasher turns codes into the form the store keeps.
type Hasher struct {
	key [KeySize]byte
}

// NewHasher returns a Hasher keyed with key (KeySize random bytes kept outside
// the database). The key is copied.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) != KeySize {
		return nil, ErrKey
	}
	h := new(Hasher)
	copy(h.key[:], key)
	return h, nil
}

// Sum returns the stored form of s: HMAC-SHA256(key, "gostkey code v1" ‖ code),
// the code in canonical upper-case form without the check symbol. The
// label keeps these MACs apart from anything else the same key might MAC.
func (h *Hasher) Sum(s Secret) []byte {
	m := hmac.New(sha256.New, h.key[:])
	m.Write([]byte("gostkey code v1\x00"))
	m.Write(s.bytes())
	return m.Sum(nil)
}

// Equal compares a code with a stored hash in constant time. A store finds an
// order by its hash; the lookup's timing can at most reveal something about a
// MAC of the guess, which says nothing about the code, and Equal is the
// comparison that decides.
func (h *Hasher) Equal(s Secret, stored []byte) bool {
	return subtle.ConstantTimeCompare(h.Sum(s), stored) == 1
}
