package pkcs11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/gostkey/gostkey/gost"
)

// findObjects returns every object matching the template.
func (t *Token) findObjects(s p11.SessionHandle, template []*p11.Attribute) ([]p11.ObjectHandle, error) {
	c := t.mod.lib.ctx
	if err := c.FindObjectsInit(s, template); err != nil {
		return nil, t.call("C_FindObjectsInit", err)
	}
	var all []p11.ObjectHandle
	seen := map[p11.ObjectHandle]bool{}
	for {
		hs, _, err := c.FindObjects(s, 64)
		if err != nil {
			_ = c.FindObjectsFinal(s)
			return nil, t.call("C_FindObjects", err)
		}
		if len(hs) == 0 {
			break
		}
		for _, h := range hs {
			// A module that ignores its search cursor would keep this
			// loop (and the slice) growing for ever.
			if seen[h] {
				_ = c.FindObjectsFinal(s)
				return nil, fmt.Errorf("pkcs11: C_FindObjects on token %q returned object handle %d twice", t.label(), h)
			}
			seen[h] = true
		}
		all = append(all, hs...)
	}
	return all, t.call("C_FindObjectsFinal", c.FindObjectsFinal(s))
}

// attributes reads the attributes of an object one by one, so that one
// the object lacks (or keeps secret) does not hide the others. Missing
// ones are absent from the map.
func (t *Token) attributes(s p11.SessionHandle, h p11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	out := make(map[uint][]byte, len(types))
	for _, typ := range types {
		attrs, err := t.mod.lib.ctx.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(typ, nil)})
		if err != nil {
			if rv, _ := rvCode(err); removalCodes[rv] {
				return nil, t.call("C_GetAttributeValue", err)
			}
			continue // absent or sensitive
		}
		if len(attrs) == 1 {
			out[typ] = attrs[0].Value
		}
	}
	return out, nil
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

func ecCurveOID(c elliptic.Curve) (asn1.ObjectIdentifier, bool) {
	switch c {
	case elliptic.P256():
		return oidP256, true
	case elliptic.P384():
		return oidP384, true
	case elliptic.P521():
		return oidP521, true
	}
	return nil, false
}

func ecCurveByOID(oid asn1.ObjectIdentifier) (elliptic.Curve, bool) {
	switch {
	case oid.Equal(oidP256):
		return elliptic.P256(), true
	case oid.Equal(oidP384):
		return elliptic.P384(), true
	case oid.Equal(oidP521):
		return elliptic.P521(), true
	}
	return nil, false
}

func derOID(oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic("pkcs11: marshalling a fixed OID: " + err.Error())
	}
	return der
}

func parseOID(der []byte) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(der, &oid)
	if err == nil && len(rest) > 0 {
		err = errors.New("trailing data")
	}
	return oid, err
}

// publicKey builds the public key from a public key object's (or, where
// the module offers them, a private key object's) attributes.
func publicKey(attrs map[uint][]byte) (any, error) {
	switch keyType := ulong(attrs[p11.CKA_KEY_TYPE]); keyType {
	case CKK_GOSTR3410, CKK_GOSTR3410_512:
		oid, err := parseOID(attrs[CKA_GOSTR3410_PARAMS])
		if err != nil {
			return nil, fmt.Errorf("pkcs11: GOST key: CKA_GOSTR3410_PARAMS: %w", err)
		}
		curve, ok := gost.CurveByOID(oid)
		if !ok {
			return nil, fmt.Errorf("pkcs11: GOST key on unknown parameter set %s", oid)
		}
		raw := attrs[p11.CKA_VALUE]
		if len(raw) != 2*curve.Size() {
			// Some modules wrap the point in an OCTET STRING, as in the SPKI.
			var inner []byte
			if rest, err := asn1.Unmarshal(raw, &inner); err == nil && len(rest) == 0 {
				raw = inner
			}
		}
		return gost.NewPublicKey(curve, raw)
	case p11.CKK_EC:
		oid, err := parseOID(attrs[p11.CKA_EC_PARAMS])
		if err != nil {
			return nil, fmt.Errorf("pkcs11: EC key: CKA_EC_PARAMS: %w", err)
		}
		curve, ok := ecCurveByOID(oid)
		if !ok {
			return nil, fmt.Errorf("pkcs11: EC key on unsupported curve %s", oid)
		}
		point := attrs[p11.CKA_EC_POINT]
		// PKCS#11 says DER OCTET STRING; some modules give the raw point.
		var inner []byte
		if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
			point = inner
		}
		return ecdsa.ParseUncompressedPublicKey(curve, point)
	default:
		return nil, fmt.Errorf("pkcs11: key type 0x%X not supported", keyType)
	}
}

// ulong decodes a CK_ULONG attribute value (native byte order and size).
func ulong(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return ^uint(0)
}

func boolAttr(b []byte) bool { return len(b) == 1 && b[0] != 0 }

// certificateFields are the parts of an X.509 certificate PKCS#11 wants as
// attributes. They are cut out with encoding/asn1 because crypto/x509
// cannot parse GOST certificates.
type certificateFields struct {
	serial  []byte // DER INTEGER
	issuer  []byte // DER Name
	subject []byte // DER Name
	spki    []byte // DER SubjectPublicKeyInfo
}

func parseCertificateFields(der []byte) (*certificateFields, error) {
	var cert struct {
		TBS struct {
			Version            int `asn1:"optional,explicit,default:0,tag:0"`
			SerialNumber       asn1.RawValue
			SignatureAlgorithm asn1.RawValue
			Issuer             asn1.RawValue
			Validity           asn1.RawValue
			Subject            asn1.RawValue
			PublicKey          asn1.RawValue
		}
		SignatureAlgorithm asn1.RawValue
		Signature          asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &cert)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: parsing certificate: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("pkcs11: parsing certificate: trailing data")
	}
	tbs := cert.TBS
	if tbs.SerialNumber.Tag != asn1.TagInteger || tbs.Issuer.Tag != asn1.TagSequence ||
		tbs.Subject.Tag != asn1.TagSequence || tbs.PublicKey.Tag != asn1.TagSequence {
		return nil, errors.New("pkcs11: parsing certificate: not an X.509 certificate")
	}
	return &certificateFields{
		serial:  tbs.SerialNumber.FullBytes,
		issuer:  tbs.Issuer.FullBytes,
		subject: tbs.Subject.FullBytes,
		spki:    tbs.PublicKey.FullBytes,
	}, nil
}
