package cms

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// derSet sorts DER elements the way DER orders a SET OF (X.690 §11.6:
// ascending encodings, which bytes.Compare gives, since a shorter encoding
// padded with zeros never sorts after a longer one it prefixes) and drops
// exact duplicates.
func derSet(elems [][]byte) [][]byte {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	return slices.CompactFunc(sorted, bytes.Equal)
}

func addSet(b *cryptobyte.Builder, tag cbasn1.Tag, elems [][]byte) {
	b.AddASN1(tag, func(b *cryptobyte.Builder) {
		for _, e := range derSet(elems) {
			b.AddBytes(e)
		}
	})
}

func addAlgorithmIdentifier(b *cryptobyte.Builder, ai pkix.AlgorithmIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(ai.Algorithm)
		if len(ai.Parameters.FullBytes) > 0 {
			b.AddBytes(ai.Parameters.FullBytes)
		}
	})
}

func marshalAlgorithmIdentifier(ai pkix.AlgorithmIdentifier) ([]byte, error) {
	var b cryptobyte.Builder
	addAlgorithmIdentifier(&b, ai)
	return b.Bytes()
}

// marshalAttribute encodes Attribute { attrType, attrValues SET OF } with
// the values given as DER elements.
func marshalAttribute(oid asn1.ObjectIdentifier, values ...[]byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		addSet(b, cbasn1.SET, values)
	})
	return b.Bytes()
}

func marshalElement(f func(b *cryptobyte.Builder)) ([]byte, error) {
	var b cryptobyte.Builder
	f(&b)
	return b.Bytes()
}

// marshalTime encodes a signingTime value: UTCTime for 1950 through 2049,
// GeneralizedTime otherwise (RFC 5652 §11.3), in UTC to whole seconds.
func marshalTime(t time.Time) ([]byte, error) {
	t = t.UTC().Truncate(time.Second)
	return marshalElement(func(b *cryptobyte.Builder) {
		if t.Year() >= 1950 && t.Year() < 2050 {
			b.AddASN1UTCTime(t)
		} else {
			b.AddASN1GeneralizedTime(t)
		}
	})
}

// signedDataFields is what marshalSignedData writes; every []byte is a
// complete DER element.
type signedDataFields struct {
	version          int
	digestAlgorithms [][]byte
	contentType      asn1.ObjectIdentifier
	content          []byte // nil for detached
	certificates     [][]byte
	crls             [][]byte
	signerInfos      [][]byte
}

func marshalSignedData(f *signedDataFields) ([]byte, error) {
	head, err := f.head()
	if err != nil {
		return nil, err
	}
	tail, err := f.tail()
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(head)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(f.contentType)
					if f.content != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(f.content)
						})
					}
				})
				b.AddBytes(tail)
			})
		})
	})
	return b.Bytes()
}

// head is the DER of the SignedData fields before encapContentInfo:
// version and digestAlgorithms.
func (f *signedDataFields) head() ([]byte, error) {
	return marshalElement(func(b *cryptobyte.Builder) {
		b.AddASN1Int64(int64(f.version))
		addSet(b, cbasn1.SET, f.digestAlgorithms)
	})
}

// tail is the DER of the SignedData fields after encapContentInfo:
// certificates, crls and signerInfos.
func (f *signedDataFields) tail() ([]byte, error) {
	return marshalElement(func(b *cryptobyte.Builder) {
		if len(f.certificates) > 0 {
			addSet(b, cbasn1.Tag(0).Constructed().ContextSpecific(), f.certificates)
		}
		if len(f.crls) > 0 {
			addSet(b, cbasn1.Tag(1).Constructed().ContextSpecific(), f.crls)
		}
		addSet(b, cbasn1.SET, f.signerInfos)
	})
}

// signedDataVersion is the SignedData version RFC 5652 §5.1 asks for,
// given that every certificate we write is X.509 and every SignerInfo we
// write uses issuerAndSerialNumber (version 1). Parsed input keeps its own
// version if higher (it may carry other certificate or CRL types).
func signedDataVersion(contentType asn1.ObjectIdentifier, signerVersions ...int) int {
	v := 1
	if !contentType.Equal(oidData) || slices.Contains(signerVersions, 3) {
		v = 3
	}
	return v
}

// addIssuerAndSerial adds IssuerAndSerialNumber from the issuer's
// raw DER Name.
func addIssuerAndSerial(b *cryptobyte.Builder, rawIssuer []byte, serial *big.Int) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(rawIssuer)
		b.AddASN1BigInt(serial)
	})
}

// encodeOutput returns der, or its PEM armour ("CMS", as openssl cms writes).
func encodeOutput(der []byte, asPEM bool) []byte {
	if !asPEM {
		return der
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: der})
}
