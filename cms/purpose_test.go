package cms

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/gostkey/gostkey/pki"
)

// TestPurpose: by default a signer certificate must be fit for signing
// documents: OpenSSL's smimesign purpose (no extKeyUsage, emailProtection
// or anyExtendedKeyUsage) or a Russian document-signing EKU, and a
// keyUsage, when present, with digitalSignature or nonRepudiation.
// PurposeAny relaxes the extKeyUsage rule. SkipChainVerification still
// checks the leaf.
func TestPurpose(t *testing.T) {
	id := newIdentity(t, "gost256-TCB")
	root, rootFile := pastRoot(t, id)
	now := time.Now()
	signWith := func(edit func(*pki.Certificate)) []byte {
		cert := issueLeaf(t, id, root, now.AddDate(0, 0, -1), now.AddDate(0, 0, 30), edit)
		sig, err := Sign(bytes.NewReader(testContent), id.key, cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	eku := func(oids ...asn1.ObjectIdentifier) func(*pki.Certificate) {
		return func(c *pki.Certificate) { c.ExtKeyUsage = oids }
	}
	serverAuth := signWith(eku(pki.OIDExtKeyUsageServerAuth))
	for _, tc := range []struct {
		name string
		sig  []byte
		opts VerifyOptions
		want Reason
	}{
		{"no EKU", signWith(nil), VerifyOptions{}, 0},
		{"emailProtection", signWith(eku(pki.OIDExtKeyUsageServerAuth, pki.OIDExtKeyUsageEmailProtection)), VerifyOptions{}, 0},
		{"anyExtendedKeyUsage", signWith(eku(pki.OIDExtKeyUsageAny)), VerifyOptions{}, 0},
		{"RFC 9336 documentSigning", signWith(eku(pki.OIDExtKeyUsageDocumentSigning)), VerifyOptions{}, 0},
		{"Microsoft document signing", signWith(eku(pki.OIDExtKeyUsageMSDocumentSigning)), VerifyOptions{}, 0},
		{"CryptoPro registration-centre user", signWith(eku(pki.OIDExtKeyUsageCryptoProRAUser, pki.OIDExtKeyUsageClientAuth)), VerifyOptions{}, 0},
		{"clientAuth only", signWith(eku(pki.OIDExtKeyUsageClientAuth)), VerifyOptions{}, WrongPurpose},
		{"serverAuth only", serverAuth, VerifyOptions{}, WrongPurpose},
		{"serverAuth only, chain skipped", serverAuth, VerifyOptions{SkipChainVerification: true}, WrongPurpose},
		{"serverAuth only, PurposeAny", serverAuth, VerifyOptions{Purpose: PurposeAny}, 0},
		{"serverAuth only, PurposeAny, chain skipped", serverAuth, VerifyOptions{Purpose: PurposeAny, SkipChainVerification: true}, 0},
		{"keyCertSign only", signWith(func(c *pki.Certificate) { c.KeyUsage = x509.KeyUsageCertSign }), VerifyOptions{}, WrongPurpose},
		{"keyCertSign only, PurposeAny", signWith(func(c *pki.Certificate) { c.KeyUsage = x509.KeyUsageCertSign }), VerifyOptions{Purpose: PurposeAny}, WrongPurpose},
		{"unknown purpose", serverAuth, VerifyOptions{Purpose: Purpose(99)}, WrongPurpose},
	} {
		opts := tc.opts
		if !opts.SkipChainVerification {
			opts.Roots = []*pki.Certificate{root}
		}
		_, err := Verify(tc.sig, nil, &opts)
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
	// OpenSSL's default (smimesign) refuses the serverAuth-only signer too.
	if _, err := opensslVerifyPurpose(t, rootFile, serverAuth, ""); err == nil {
		t.Error("openssl accepts a serverAuth-only signer under smimesign")
	}
	if _, err := opensslVerifyPurpose(t, rootFile, serverAuth, "any"); err != nil {
		t.Errorf("openssl -purpose any: %v", err)
	}
}

// TestPurposeAlongTheChain: an intermediate CA whose extKeyUsage allows
// serverAuth only cannot vouch for a document signer below it, even one
// whose own extKeyUsage has emailProtection (pki.Verify nests the usages).
func TestPurposeAlongTheChain(t *testing.T) {
	id, caKeys := newIdentity(t, "gost256-TCB"), newIdentity(t, "gost512-B")
	root, _ := pastRoot(t, id)
	now := time.Now()
	create := func(tmpl, parent *pki.Certificate, pub crypto.PublicKey, signer crypto.Signer) *pki.Certificate {
		der, err := pki.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pki.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		caEKU  []asn1.ObjectIdentifier
		opts   VerifyOptions
		reason Reason
	}{
		{"intermediate serverAuth only", []asn1.ObjectIdentifier{pki.OIDExtKeyUsageServerAuth}, VerifyOptions{}, WrongPurpose},
		{"intermediate serverAuth only, PurposeAny", []asn1.ObjectIdentifier{pki.OIDExtKeyUsageServerAuth}, VerifyOptions{Purpose: PurposeAny}, 0},
		{"intermediate emailProtection", []asn1.ObjectIdentifier{pki.OIDExtKeyUsageEmailProtection}, VerifyOptions{}, 0},
	} {
		ca := create(&pki.Certificate{Subject: pki.Name{CommonName: "cms test intermediate"},
			NotBefore: now.AddDate(0, 0, -1), NotAfter: now.AddDate(0, 0, 30), KeyUsage: x509.KeyUsageCertSign, ExtKeyUsage: tc.caEKU,
			BasicConstraintsValid: true, IsCA: true}, root, caKeys.root.PublicKey, id.rootKey)
		leaf := create(&pki.Certificate{Subject: id.cert.Subject, NotBefore: now.AddDate(0, 0, -1), NotAfter: now.AddDate(0, 0, 30),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []asn1.ObjectIdentifier{pki.OIDExtKeyUsageEmailProtection}}, ca, id.cert.PublicKey, caKeys.rootKey)
		sig, err := Sign(bytes.NewReader(testContent), id.key, leaf, &SignOptions{ExtraCerts: []*pki.Certificate{ca}})
		if err != nil {
			t.Fatal(err)
		}
		opts := tc.opts
		opts.Roots = []*pki.Certificate{root}
		if _, err := Verify(sig, nil, &opts); reasonOf(err) != tc.reason {
			t.Errorf("%s: got %v (%v), want %v", tc.name, reasonOf(err), err, tc.reason)
		}
	}
}

func TestParsePurpose(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Purpose
		ok   bool
	}{{"document", PurposeDocumentSigning, true}, {"any", PurposeAny, true}, {"", 0, false}, {"serverAuth", 0, false}} {
		got, err := ParsePurpose(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePurpose(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}
