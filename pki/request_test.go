package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"reflect"
	"testing"
)

func TestCertificateRequestRoundTrip(t *testing.T) {
	for _, name := range []string{"streebog256", "streebog512", "p256", "rsa"} {
		t.Run(name, func(t *testing.T) {
			key := testKey(t, name)
			tmpl := &CertificateRequest{
				Subject:           leafTemplate().Subject,
				KeyUsage:          x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
				ExtKeyUsage:       []asn1.ObjectIdentifier{OIDExtKeyUsageClientAuth},
				EmailAddresses:    []string{"ivanov@example.ru"},
				IPAddresses:       []net.IP{net.IPv4(127, 0, 0, 1).To4()},
				PolicyIdentifiers: []asn1.ObjectIdentifier{OIDPolicyKC1},
				SubjectSignTool:   "СКЗИ «gostkey»",
				ExtraExtensions:   []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}},
			}
			der, err := CreateCertificateRequest(rand.Reader, tmpl, key)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.CheckSignature(); err != nil {
				t.Fatal(err)
			}
			alg, _ := DefaultSignatureAlgorithm(key.Public())
			if r.SignatureAlgorithm != alg || !publicKeysEqual(r.PublicKey, key.Public()) || r.Subject.String() != tmpl.Subject.String() {
				t.Errorf("algorithm %v, subject %q", r.SignatureAlgorithm, r.Subject.String())
			}
			for _, f := range []struct {
				name      string
				got, want any
			}{
				{"KeyUsage", r.KeyUsage, tmpl.KeyUsage},
				{"ExtKeyUsage", r.ExtKeyUsage, tmpl.ExtKeyUsage},
				{"EmailAddresses", r.EmailAddresses, tmpl.EmailAddresses},
				{"IPAddresses", r.IPAddresses, tmpl.IPAddresses},
				{"PolicyIdentifiers", r.PolicyIdentifiers, tmpl.PolicyIdentifiers},
				{"SubjectSignTool", r.SubjectSignTool, tmpl.SubjectSignTool},
				{"extensions", len(r.Extensions), 6},
			} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
			// PEM input works as DER does.
			p, err := ParseCertificateRequest(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
			if err != nil || !p.Equal(r) {
				t.Errorf("PEM: %v", err)
			}
			bad := append([]byte(nil), der...)
			bad[len(bad)-1] ^= 1
			br, err := ParseCertificateRequest(bad)
			if err != nil {
				t.Fatal(err)
			}
			if err := br.CheckSignature(); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("altered signature: %v", err)
			}
		})
	}
}

func TestCertificateRequestWithoutExtensions(t *testing.T) {
	der, err := CreateCertificateRequest(rand.Reader, &CertificateRequest{Subject: Name{CommonName: "x"}}, testKey(t, "streebog256"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	// The attributes field is not optional: an empty [0] as OpenSSL writes.
	if !bytes.HasSuffix(r.RawTBSCertificateRequest, []byte{0xa0, 0x00}) || len(r.Extensions) != 0 {
		t.Errorf("tbs ends %x", r.RawTBSCertificateRequest[len(r.RawTBSCertificateRequest)-4:])
	}
	// The GOST AlgorithmIdentifier is written without parameters.
	if !bytes.Contains(der, []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x03, 0x02, 0x03, 0x41, 0x00}) {
		t.Error("signature AlgorithmIdentifier or BIT STRING header unexpected")
	}
}

func TestParseCertificateRequestRejects(t *testing.T) {
	der, _ := CreateCertificateRequest(rand.Reader, &CertificateRequest{Subject: Name{CommonName: "x"}}, testKey(t, "p256"))
	for name, data := range map[string][]byte{
		"trailing byte":     append(append([]byte(nil), der...), 0),
		"truncated":         der[:len(der)-1],
		"certificate block": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"empty":             nil,
	} {
		if _, err := ParseCertificateRequest(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
