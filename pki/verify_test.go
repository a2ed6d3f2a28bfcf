package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
	"time"
)

func TestVerifyReasons(t *testing.T) {
	rootKey, midKey, leafKey := testKey(t, "streebog256"), testKey(t, "streebog512"), testKey(t, "p256")
	root := issue(t, caTemplate("root"), nil, rootKey)
	impostor := caTemplate("root") // same name and key identifier, other key
	impostor.SubjectKeyId = root.cert.SubjectKeyId
	otherRoot := issue(t, impostor, nil, testKey(t, "p384"))

	midTmpl := caTemplate("intermediate")
	mid := issue(t, midTmpl, root, midKey)

	pathZero := caTemplate("root, pathLen 0")
	pathZero.MaxPathLen, pathZero.MaxPathLenZero = 0, true
	rootPath0 := issue(t, pathZero, nil, rootKey)
	midUnderPath0 := issue(t, caTemplate("intermediate"), rootPath0, midKey)

	notCA := caTemplate("not a CA")
	notCA.IsCA = false
	rootNotCA := issue(t, notCA, nil, rootKey)

	noCertSign := caTemplate("no keyCertSign")
	noCertSign.KeyUsage = x509.KeyUsageCRLSign
	rootNoCertSign := issue(t, noCertSign, nil, rootKey)

	expiredCA := caTemplate("expired intermediate")
	expiredCA.NotAfter = testNow.Add(-time.Minute)
	expiredMid := issue(t, expiredCA, root, midKey)

	leafUnder := func(parent *testCert, mod func(*Certificate)) *Certificate {
		tmpl := leafTemplate()
		if mod != nil {
			mod(tmpl)
		}
		return issue(t, tmpl, parent, leafKey).cert
	}
	plainLeaf := leafUnder(mid, nil)
	roots := []*Certificate{root.cert}

	tests := []struct {
		name     string
		leaf     *Certificate
		opts     VerifyOptions
		reason   InvalidReason // 0: valid
		culprit  *Certificate
		chainLen int
	}{
		{"valid through an intermediate", plainLeaf, VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}}, 0, nil, 3},
		{"the root itself", root.cert, VerifyOptions{Roots: roots}, 0, nil, 1},
		{"intermediate missing", plainLeaf, VerifyOptions{Roots: roots}, UnknownAuthority, plainLeaf, 0},
		{"other root of the same name", plainLeaf, VerifyOptions{Roots: []*Certificate{otherRoot.cert}, Intermediates: []*Certificate{mid.cert}}, BadSignature, mid.cert, 0},
		{"leaf expired", plainLeaf, VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}, CurrentTime: testNow.Add(366 * 24 * time.Hour)}, Expired, plainLeaf, 0},
		{"leaf not yet valid", plainLeaf, VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}, CurrentTime: testNow.Add(-2 * time.Hour)}, NotYetValid, plainLeaf, 0},
		{"intermediate expired", leafUnder(&testCert{expiredMid.cert, midKey}, nil), VerifyOptions{Roots: roots, Intermediates: []*Certificate{expiredMid.cert}}, Expired, expiredMid.cert, 0},
		{"issuer not a CA", leafUnder(rootNotCA, nil), VerifyOptions{Roots: []*Certificate{rootNotCA.cert}}, NotAuthorizedToSign, rootNotCA.cert, 0},
		{"issuer without keyCertSign", leafUnder(rootNoCertSign, nil), VerifyOptions{Roots: []*Certificate{rootNoCertSign.cert}}, NotAuthorizedToSign, rootNoCertSign.cert, 0},
		{"pathLen 0 with an intermediate", leafUnder(midUnderPath0, nil), VerifyOptions{Roots: []*Certificate{rootPath0.cert}, Intermediates: []*Certificate{midUnderPath0.cert}}, TooManyIntermediates, rootPath0.cert, 0},
		{"pathLen 0 directly", leafUnder(rootPath0, nil), VerifyOptions{Roots: []*Certificate{rootPath0.cert}}, 0, nil, 2},
		{"key usage lacks keyCertSign asked", plainLeaf, VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}, KeyUsage: x509.KeyUsageCertSign}, IncompatibleUsage, plainLeaf, 0},
		{"key usage has what is asked", plainLeaf, VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}, 0, nil, 3},
		{"EKU lacks serverAuth", plainLeaf, VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}, ExtKeyUsage: []asn1.ObjectIdentifier{OIDExtKeyUsageServerAuth}}, IncompatibleUsage, plainLeaf, 0},
		{"EKU has clientAuth", plainLeaf, VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}, ExtKeyUsage: []asn1.ObjectIdentifier{OIDExtKeyUsageServerAuth, OIDExtKeyUsageClientAuth}}, 0, nil, 3},
		{"unknown critical extension", leafUnder(mid, func(c *Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}
		}), VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}}, UnhandledCriticalExtension, nil, 0},
		{"unknown non-critical extension", leafUnder(mid, func(c *Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}
		}), VerifyOptions{Roots: roots, Intermediates: []*Certificate{mid.cert}}, 0, nil, 3},
		{"no roots", plainLeaf, VerifyOptions{Intermediates: []*Certificate{mid.cert}}, UnknownAuthority, mid.cert, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.CurrentTime.IsZero() {
				tt.opts.CurrentTime = testNow
			}
			chain, err := tt.leaf.Verify(tt.opts)
			if tt.reason == 0 {
				if err != nil || len(chain) != tt.chainLen || !chain[0].Equal(tt.leaf) {
					t.Fatalf("got %d certificates, %v; want a chain of %d", len(chain), err, tt.chainLen)
				}
				return
			}
			var ce *CertificateInvalidError
			if !errors.As(err, &ce) || ce.Reason != tt.reason {
				t.Fatalf("got %v, want reason %v", err, tt.reason)
			}
			culprit := tt.culprit
			if culprit == nil {
				culprit = tt.leaf
			}
			if !ce.Cert.Equal(culprit) {
				t.Errorf("error names %q, want %q", ce.Cert.Subject.String(), culprit.Subject.String())
			}
			if chain != nil {
				t.Error("chain returned with an error")
			}
		})
	}
}

func TestVerifyBadSignatureWraps(t *testing.T) {
	root := issue(t, caTemplate("root"), nil, testKey(t, "streebog256"))
	leaf := issue(t, leafTemplate(), root, testKey(t, "streebog512")).cert
	raw := append([]byte(nil), leaf.Raw...)
	raw[len(raw)-1] ^= 0x80
	bad, err := ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Verify(VerifyOptions{Roots: []*Certificate{root.cert}, CurrentTime: testNow})
	var ce *CertificateInvalidError
	if !errors.As(err, &ce) || ce.Reason != BadSignature || !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("got %v", err)
	}
}

// TestTamperEveryByte flips one bit in each byte of signed GOST
// certificates: the result must never verify, and a change inside the
// signature value must be reported as a bad signature.
func TestTamperEveryByte(t *testing.T) {
	for _, keyName := range []string{"streebog256", "streebog512"} {
		key := testKey(t, keyName)
		root := issue(t, caTemplate("root"), nil, key)
		tmpl := leafTemplate()
		// A shorter leaf keeps the one GOST verification per byte cheap.
		tmpl.ExtKeyUsage, tmpl.IssuerSignTool, tmpl.DNSNames, tmpl.IPAddresses, tmpl.Subject.Street = nil, nil, nil, nil, ""
		leaf := issue(t, tmpl, root, testKey(t, "p256")).cert
		sigStart := len(leaf.Raw) - len(leaf.Signature)
		opts := VerifyOptions{Roots: []*Certificate{root.cert}, CurrentTime: testNow}
		for i := range leaf.Raw {
			raw := append([]byte(nil), leaf.Raw...)
			raw[i] ^= 0x01
			c, err := ParseCertificate(raw)
			if err != nil {
				if i >= sigStart {
					t.Fatalf("%s byte %d (signature): parse failed: %v", keyName, i, err)
				}
				continue
			}
			_, err = c.Verify(opts)
			var ce *CertificateInvalidError
			if !errors.As(err, &ce) {
				t.Fatalf("%s byte %d: verified (%v)", keyName, i, err)
			}
			if i >= sigStart && ce.Reason != BadSignature {
				t.Fatalf("%s byte %d (signature): reason %v", keyName, i, ce.Reason)
			}
		}
	}
}

// TestVerifyEKUNesting: with purposes requested, every certificate of the
// chain with an extKeyUsage, the trust anchor included (as crypto/x509
// checks), must allow one of them, and the same one all along: a CA
// restricted to serverAuth does not issue document signers.
func TestVerifyEKUNesting(t *testing.T) {
	rootKey, midKey, leafKey := testKey(t, "streebog256"), testKey(t, "streebog512"), testKey(t, "p256")
	email, client, server := OIDExtKeyUsageEmailProtection, OIDExtKeyUsageClientAuth, OIDExtKeyUsageServerAuth
	ekus := func(e ...asn1.ObjectIdentifier) []asn1.ObjectIdentifier { return e }
	chain := func(rootEKU, midEKU, leafEKU []asn1.ObjectIdentifier) (leaf, mid, root *Certificate) {
		rt := caTemplate("root")
		rt.ExtKeyUsage = rootEKU
		r := issue(t, rt, nil, rootKey)
		mt := caTemplate("intermediate")
		mt.ExtKeyUsage = midEKU
		m := issue(t, mt, r, midKey)
		lt := leafTemplate()
		lt.ExtKeyUsage = leafEKU
		return issue(t, lt, m, leafKey).cert, m.cert, r.cert
	}
	const (
		ok = iota
		leafFails
		midFails
		rootFails
	)
	tests := []struct {
		name                    string
		root, mid, leaf, wanted []asn1.ObjectIdentifier
		want                    int
	}{
		{"serverAuth-only intermediate, emailProtection asked", nil, ekus(server), ekus(email), ekus(email), midFails},
		{"anyExtendedKeyUsage intermediate", nil, ekus(OIDExtKeyUsageAny), ekus(email), ekus(email), ok},
		{"intermediate allows it", nil, ekus(server, email), ekus(email, client), ekus(email), ok},
		{"intermediate without the extension", nil, nil, ekus(email), ekus(email), ok},
		{"leaf without the extension, intermediate restricted", nil, ekus(server), nil, ekus(email), midFails},
		{"nothing asked", ekus(server), ekus(server), ekus(email), nil, ok},
		{"serverAuth-only root", ekus(server), nil, ekus(email), ekus(email), rootFails},
		{"one of two asked survives", nil, ekus(client), ekus(email, client), ekus(email, client), ok},
		// Each allows one of the purposes asked, but not the same one.
		{"no purpose common to the chain", nil, ekus(client), ekus(email), ekus(email, client), midFails},
		{"leaf allows none", nil, nil, ekus(server), ekus(email), leafFails},
		{"anyExtendedKeyUsage asked", ekus(server), ekus(client), ekus(email), ekus(OIDExtKeyUsageAny), ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, mid, root := chain(tt.root, tt.mid, tt.leaf)
			got, err := leaf.Verify(VerifyOptions{Roots: []*Certificate{root}, Intermediates: []*Certificate{mid}, CurrentTime: testNow, ExtKeyUsage: tt.wanted})
			if tt.want == ok {
				if err != nil || len(got) != 3 {
					t.Fatalf("got %d certificates, %v; want the chain", len(got), err)
				}
				return
			}
			culprit := []*Certificate{nil, leaf, mid, root}[tt.want]
			var ce *CertificateInvalidError
			if !errors.As(err, &ce) || ce.Reason != IncompatibleUsage || !ce.Cert.Equal(culprit) {
				t.Fatalf("got %v; want IncompatibleUsage naming %q", err, culprit.Subject.CommonName)
			}
		})
	}
}
