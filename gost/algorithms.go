package gost

import (
	"encoding/asn1"
	"hash"
)

// Hash names a Streebog variant. In GOST R 34.10-2012 the hash fixes the
// whole algorithm family: the key size, the public-key OID and the
// signature OID, so this one table maps all of them.
type Hash int

const (
	Streebog256 Hash = iota + 1
	Streebog512
)

// Object identifiers of the GOST R 34.10/34.11-2012 algorithms (TC26 arc).
var (
	OIDPublicKey256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 1}
	OIDPublicKey512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 2}
	OIDStreebog256  = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 2}
	OIDStreebog512  = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 3}
	OIDSignature256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 3, 2}
	OIDSignature512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 3, 3}
)

type hashDetails struct {
	name      string
	size      int
	newHash   func() hash.Hash
	digest    asn1.ObjectIdentifier
	publicKey asn1.ObjectIdentifier
	signature asn1.ObjectIdentifier
}

var hashTable = map[Hash]hashDetails{
	Streebog256: {"streebog256", Size256, New256, OIDStreebog256, OIDPublicKey256, OIDSignature256},
	Streebog512: {"streebog512", Size512, New512, OIDStreebog512, OIDPublicKey512, OIDSignature512},
}

func (h Hash) details() hashDetails {
	d, ok := hashTable[h]
	if !ok {
		panic("gost: unknown hash")
	}
	return d
}

// Available reports whether h is a known variant.
func (h Hash) Available() bool { _, ok := hashTable[h]; return ok }

// String returns the name used on the command line and in openssl
// (streebog256, streebog512).
func (h Hash) String() string {
	if !h.Available() {
		return "unknown"
	}
	return h.details().name
}

// Size is the digest length in bytes, which is also the length of each
// coordinate and of each half of a signature.
func (h Hash) Size() int { return h.details().size }

// New returns a new Streebog hash of this variant.
func (h Hash) New() hash.Hash { return h.details().newHash() }

// DigestOID is the OID of the hash itself (CMS digestAlgorithm).
func (h Hash) DigestOID() asn1.ObjectIdentifier { return h.details().digest }

// PublicKeyOID is the SubjectPublicKeyInfo algorithm of keys of this size.
func (h Hash) PublicKeyOID() asn1.ObjectIdentifier { return h.details().publicKey }

// SignatureOID is the signature algorithm (signwithdigest) of this size.
func (h Hash) SignatureOID() asn1.ObjectIdentifier { return h.details().signature }

// HashByName looks a variant up by String's name.
func HashByName(name string) (Hash, bool) {
	for h, d := range hashTable {
		if d.name == name {
			return h, true
		}
	}
	return 0, false
}

// HashByDigestOID, HashByPublicKeyOID and HashBySignatureOID look a variant
// up by one of its OIDs.
func HashByDigestOID(oid asn1.ObjectIdentifier) (Hash, bool) {
	return hashBy(oid, func(d hashDetails) asn1.ObjectIdentifier { return d.digest })
}

func HashByPublicKeyOID(oid asn1.ObjectIdentifier) (Hash, bool) {
	return hashBy(oid, func(d hashDetails) asn1.ObjectIdentifier { return d.publicKey })
}

func HashBySignatureOID(oid asn1.ObjectIdentifier) (Hash, bool) {
	return hashBy(oid, func(d hashDetails) asn1.ObjectIdentifier { return d.signature })
}

func hashBy(oid asn1.ObjectIdentifier, field func(hashDetails) asn1.ObjectIdentifier) (Hash, bool) {
	for h, d := range hashTable {
		if field(d).Equal(oid) {
			return h, true
		}
	}
	return 0, false
}
