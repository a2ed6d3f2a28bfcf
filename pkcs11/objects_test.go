package pkcs11

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"path/filepath"
	"testing"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
)

// The certificate attributes come out byte for byte as crypto/x509 (for
// ECDSA) and openssl (for GOST) see them.
func TestParseCertificateFields(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := selfSigned(t, k, 0x0102030405)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseCertificateFields(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.subject, c.RawSubject) || !bytes.Equal(f.issuer, c.RawIssuer) ||
		!bytes.Equal(f.spki, c.RawSubjectPublicKeyInfo) || !bytes.Equal(f.serial, mustHex("02050102030405")) {
		t.Errorf("fields %x", f)
	}
	for _, bad := range [][]byte{nil, []byte("junk"), append(bytes.Clone(der), 0), der[:len(der)-1]} {
		if _, err := parseCertificateFields(bad); err == nil {
			t.Errorf("parsed %x", bad)
		}
	}
}

func TestParseCertificateFieldsGOST(t *testing.T) {
	testkit.RequireOpenSSL(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	testkit.OpenSSL(t, nil, "genpkey", "-algorithm", "gost2012_512", "-pkeyopt", "paramset:C", "-out", key)
	der := testkit.OpenSSL(t, nil, "req", "-new", "-x509", "-key", key, "-subj", "/CN=Иван/O=gostkey", "-days", "1", "-set_serial", "0x7f01", "-outform", "DER")
	f, err := parseCertificateFields(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.serial, mustHex("02027f01")) {
		t.Errorf("serial %x", f.serial)
	}
	if !bytes.Equal(f.subject, f.issuer) {
		t.Error("self-signed issuer differs from subject")
	}
	subj := testkit.OpenSSL(t, f.subject, "asn1parse", "-inform", "DER")
	if !bytes.Contains(subj, []byte("commonName")) || !bytes.Contains(subj, []byte("organizationName")) {
		t.Errorf("subject: %s", subj)
	}
	pub, err := gost.ParsePKIXPublicKey(f.spki)
	if err != nil || pub.Curve != gost.CurveTC26512C {
		t.Errorf("SPKI: %v %v", pub, err)
	}
}

func FuzzParseCertificateFields(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add(selfSigned(f, k, 1))
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		fields, err := parseCertificateFields(der)
		if err != nil {
			return
		}
		for _, part := range [][]byte{fields.serial, fields.issuer, fields.subject, fields.spki} {
			if !bytes.Contains(der, part) {
				t.Fatalf("field %x is not part of the input", part)
			}
			var raw asn1.RawValue
			if rest, err := asn1.Unmarshal(part, &raw); err != nil || len(rest) != 0 {
				t.Fatalf("field %x is not one DER value", part)
			}
		}
	})
}
