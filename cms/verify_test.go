package cms

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// tamperKinds are the key kinds the table tests run on: one GOST size each
// and ECDSA, so every code path (Streebog-256/512, SHA-256) is covered.
var tamperKinds = []string{"gost256-TCA", "gost512-A", "ecdsa-p256"}

func flipAt(data []byte, i int) []byte {
	out := bytes.Clone(data)
	out[i] ^= 0x01
	return out
}

// index finds part in data, failing the test when absent so that a table
// entry can never silently test nothing.
func index(t *testing.T, data, part []byte) int {
	t.Helper()
	i := bytes.Index(data, part)
	if i < 0 || len(part) == 0 {
		t.Fatalf("part %x not found", part)
	}
	return i
}

// TestTamper: changing any byte of the content, the signature, a signed
// attribute or the certificate makes verification fail with the reason
// that names it.
func TestTamper(t *testing.T) {
	for _, kind := range tamperKinds {
		t.Run(kind, func(t *testing.T) {
			id := newIdentity(t, kind)
			opts := &VerifyOptions{Roots: []*pki.Certificate{id.root}, RequireCAdES: true}
			sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(sig, nil, opts); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			sd, err := Parse(sig)
			if err != nil {
				t.Fatal(err)
			}
			si := sd.Signers[0]
			md, _ := attribute(si.SignedAttrs, oidMessageDigest)
			st, _ := attribute(si.SignedAttrs, oidSigningTime)
			ess, _ := attribute(si.SignedAttrs, oidSigningCertificateV2)
			if len(md) != 1 || len(st) != 1 || len(ess) != 1 {
				t.Fatal("Sign did not write messageDigest, signingTime and signingCertificateV2")
			}
			certAt := index(t, sig, id.cert.Raw)
			alg, _ := pki.DefaultSignatureAlgorithm(id.cert.PublicKey)
			certHash := alg.NewHash()
			certHash.Write(id.cert.Raw)
			for _, tc := range []struct {
				name string
				at   int
				want Reason
			}{
				{"content first byte", index(t, sig, testContent), DigestMismatch},
				{"content last byte", index(t, sig, testContent) + len(testContent) - 1, DigestMismatch},
				{"signature first byte", index(t, sig, si.Signature), BadSignature},
				{"signature last byte", index(t, sig, si.Signature) + len(si.Signature) - 1, BadSignature},
				{"messageDigest value", index(t, sig, md[0]) + 5, BadSignature},
				{"signingTime value", index(t, sig, st[0]) + 4, BadSignature},
				{"signingCertificateV2 certHash", index(t, sig, certHash.Sum(nil)), BadSignature},
				{"signingCertificateV2 issuerSerial", index(t, sig, ess[0]) + len(ess[0]) - 1, BadSignature},
				{"certificate subject", index(t, sig, []byte("cms test signer")), SigningCertificateMismatch},
				{"certificate CA signature", certAt + len(id.cert.Raw) - 1, SigningCertificateMismatch},
				{"certificate serial", index(t, sig, id.cert.SerialNumber.Bytes()), CertificateNotFound},
			} {
				_, err := Verify(flipAt(sig, tc.at), nil, opts)
				if got := reasonOf(err); got != tc.want {
					t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
				}
			}
			detached, err := Sign(bytes.NewReader(testContent), id.key, id.cert, &SignOptions{Detached: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, len(testContent) / 2, len(testContent) - 1} {
				_, err := Verify(detached, bytes.NewReader(flipAt(testContent, i)), opts)
				if reasonOf(err) != DigestMismatch {
					t.Fatalf("detached content byte %d: %v", i, err)
				}
			}
			if _, err := Verify(detached, bytes.NewReader(testContent[1:]), opts); reasonOf(err) != DigestMismatch {
				t.Errorf("detached content truncated: %v", err)
			}
			if _, err := Verify(detached, nil, opts); reasonOf(err) != ContentMissing {
				t.Errorf("detached without content: %v", err)
			}
		})
	}
}

// buildSigned makes an attached SignedData whose one SignerInfo carries
// exactly attrs, correctly signed, so that attribute rules can be tested
// apart from the signature.
func buildSigned(t *testing.T, id *identity, attrs [][]byte) []byte {
	t.Helper()
	prepared, err := prepareSigners([]Signer{{Key: id.key, Certificate: id.cert}})
	if err != nil {
		t.Fatal(err)
	}
	si, err := signAttributes(rand.Reader, prepared[0], attrs)
	if err != nil {
		t.Fatal(err)
	}
	der, err := marshalSignedData(&signedDataFields{version: 1, digestAlgorithms: [][]byte{prepared[0].digestAI},
		contentType: oidData, content: testContent, certificates: [][]byte{id.cert.Raw}, signerInfos: [][]byte{si}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustAttr(t *testing.T, oid asn1.ObjectIdentifier, values ...[]byte) []byte {
	t.Helper()
	der, err := marshalAttribute(oid, values...)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustElem(t *testing.T, f func(b *cryptobyte.Builder)) []byte {
	t.Helper()
	der, err := marshalElement(f)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestAttributeRules: the signed-attribute rules of fact sheet §4.5 on
// correctly signed SignerInfos.
func TestAttributeRules(t *testing.T) {
	for _, kind := range tamperKinds {
		t.Run(kind, func(t *testing.T) {
			id := newIdentity(t, kind)
			prepared, err := prepareSigners([]Signer{{Key: id.key, Certificate: id.cert}})
			if err != nil {
				t.Fatal(err)
			}
			p := prepared[0]
			h := p.Algorithm.NewHash()
			h.Write(testContent)
			digest := h.Sum(nil)
			ct := mustAttr(t, oidContentType, mustElem(t, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) }))
			octets := func(v []byte) []byte {
				return mustElem(t, func(b *cryptobyte.Builder) { b.AddASN1OctetString(v) })
			}
			md := mustAttr(t, oidMessageDigest, octets(digest))
			tm1, _ := marshalTime(time.Now())
			tm2, _ := marshalTime(time.Now().Add(time.Minute))
			essValue, err := signingCertificateV2(p)
			if err != nil {
				t.Fatal(err)
			}
			ess := mustAttr(t, oidSigningCertificateV2, essValue)
			// An ESS v2 value for another certificate: same issuer and
			// serial, wrong hash.
			wrongHash := bytes.Clone(essValue)
			wrongHash[index(t, wrongHash, hashOf(p, id.cert.Raw))] ^= 1
			// SHA-1 signingCertificate (RFC 2634), right and wrong.
			sum := sha1.Sum(id.cert.Raw)
			essV1 := func(hash []byte) []byte {
				return mustAttr(t, oidSigningCertificate, mustElem(t, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1OctetString(hash)
								addIssuerSerial(b, id.cert)
							})
						})
					})
				}))
			}
			otherSerial := &pki.Certificate{RawIssuer: id.cert.RawIssuer, SerialNumber: big.NewInt(424242), Raw: id.cert.Raw}
			wrongSerial, err := signingCertificateV2(preparedSigner{Signer: Signer{Certificate: otherSerial, Algorithm: p.Algorithm}, digestAI: p.digestAI})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name      string
				attrs     [][]byte
				want      Reason // 0: valid
				wantCAdES bool
			}{
				{"complete", [][]byte{ct, md, mustAttr(t, oidSigningTime, tm1), ess}, 0, true},
				{"no signingTime", [][]byte{ct, md, ess}, 0, true},
				{"ESS v1 only", [][]byte{ct, md, essV1(sum[:])}, 0, true},
				{"no contentType", [][]byte{md, ess}, MissingAttribute, false},
				{"no messageDigest", [][]byte{ct, ess}, MissingAttribute, false},
				{"no signingCertificate", [][]byte{ct, md}, MissingAttribute, false},
				{"contentType twice", [][]byte{ct, mustAttr(t, oidContentType, mustElem(t, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSignedData) })), md, ess}, DuplicateAttribute, false},
				{"messageDigest two values", [][]byte{ct, mustAttr(t, oidMessageDigest, octets(digest), octets(digest[1:])), ess}, DuplicateAttribute, false},
				{"signingTime twice", [][]byte{ct, md, ess, mustAttr(t, oidSigningTime, tm1), mustAttr(t, oidSigningTime, tm2)}, DuplicateAttribute, false},
				{"signingCertificateV2 twice", [][]byte{ct, md, ess, mustAttr(t, oidSigningCertificateV2, wrongHash)}, DuplicateAttribute, false},
				{"contentType not data", [][]byte{mustAttr(t, oidContentType, mustElem(t, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSignedData) })), md, ess}, ContentTypeMismatch, false},
				{"messageDigest not OCTET STRING", [][]byte{ct, mustAttr(t, oidMessageDigest, mustElem(t, func(b *cryptobyte.Builder) { b.AddASN1NULL() })), ess}, MalformedAttribute, false},
				{"messageDigest wrong", [][]byte{ct, mustAttr(t, oidMessageDigest, octets(flipAt(digest, 0))), ess}, DigestMismatch, false},
				{"ESS v2 hash wrong", [][]byte{ct, md, mustAttr(t, oidSigningCertificateV2, wrongHash)}, SigningCertificateMismatch, false},
				{"ESS v2 serial wrong", [][]byte{ct, md, mustAttr(t, oidSigningCertificateV2, wrongSerial)}, SigningCertificateMismatch, false},
				{"ESS v1 hash wrong", [][]byte{ct, md, essV1(flipAt(sum[:], 3))}, SigningCertificateMismatch, false},
			} {
				sig := buildSigned(t, id, tc.attrs)
				res, err := Verify(sig, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, RequireCAdES: true})
				if got := reasonOf(err); got != tc.want {
					t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
					continue
				}
				if tc.want == 0 && res.Signers[0].CAdES != tc.wantCAdES {
					t.Errorf("%s: CAdES = %v", tc.name, res.Signers[0].CAdES)
				}
			}
			// Without RequireCAdES a CMS signature without the ESS
			// attribute is valid, but not reported as CAdES.
			res, err := Verify(buildSigned(t, id, [][]byte{ct, md}), nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}})
			if err != nil || res.Signers[0].CAdES {
				t.Errorf("plain CMS: %v, CAdES=%v", err, res.Signers[0].CAdES)
			}
		})
	}
}

func hashOf(p preparedSigner, data []byte) []byte {
	h := p.Algorithm.NewHash()
	h.Write(data)
	return h.Sum(nil)
}

// TestChain: the chain is checked against the given roots now, or at
// VerifyOptions.CurrentTime; never at the claimed signing time.
func TestChain(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	other := newIdentity(t, "ecdsa-p256")
	sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	future, err := Sign(bytes.NewReader(testContent), id.key, id.cert, &SignOptions{SigningTime: time.Now().AddDate(5, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sig  []byte
		opts VerifyOptions
		want Reason
	}{
		{"right root", sig, VerifyOptions{Roots: []*pki.Certificate{id.root}}, 0},
		{"wrong root", sig, VerifyOptions{Roots: []*pki.Certificate{other.root}}, ChainInvalid},
		{"no roots", sig, VerifyOptions{}, ChainInvalid},
		{"no roots, chain skipped", sig, VerifyOptions{SkipChainVerification: true}, 0},
		// The claimed signing time decides nothing: checked now.
		{"claims a signing time after expiry", future, VerifyOptions{Roots: []*pki.Certificate{id.root}}, 0},
		{"claims a signing time after expiry, asserted now", future, VerifyOptions{Roots: []*pki.Certificate{id.root}, CurrentTime: time.Now()}, 0},
		{"checked after expiry", sig, VerifyOptions{Roots: []*pki.Certificate{id.root}, CurrentTime: time.Now().AddDate(5, 0, 0)}, ChainInvalid},
	} {
		res, err := Verify(tc.sig, nil, &tc.opts)
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
			continue
		}
		chained := tc.want == 0 && !tc.opts.SkipChainVerification
		if (res.Signers[0].Chain != nil) != chained {
			t.Errorf("%s: chain %v", tc.name, res.Signers[0].Chain)
		}
	}
}

// countingReader yields n deterministic bytes and counts what is read, to
// prove the content is read in one pass.
type countingReader struct {
	n, read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	if rem := r.n - r.read; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		p[i] = byte((r.read + int64(i)) * 7)
	}
	r.read += int64(len(p))
	return len(p), nil
}

// TestDetachedStreaming: SignMulti with signers of three different digests
// and Verify of the result read a detached content exactly once.
func TestDetachedStreaming(t *testing.T) {
	a, b, c := newIdentity(t, "gost256-TCA"), newIdentity(t, "gost512-A"), newIdentity(t, "ecdsa-p256")
	const size = 3<<20 + 17
	r := &countingReader{n: size}
	sig, err := SignMulti(r, []Signer{{Key: a.key, Certificate: a.cert}, {Key: b.key, Certificate: b.cert},
		{Key: c.key, Certificate: c.cert, Algorithm: pki.ECDSAWithSHA384}}, &SignOptions{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.read != size {
		t.Fatalf("signing read %d bytes, want %d", r.read, size)
	}
	r = &countingReader{n: size}
	res, err := Verify(sig, r, &VerifyOptions{Roots: []*pki.Certificate{a.root, b.root, c.root}, RequireCAdES: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.read != size {
		t.Fatalf("verification read %d bytes, want %d", r.read, size)
	}
	want := []pki.SignatureAlgorithm{pki.GOST256, pki.GOST512, pki.ECDSAWithSHA384}
	var got []pki.SignatureAlgorithm
	for _, s := range res.Signers {
		got = append(got, s.Algorithm)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("algorithms %v, want %v", got, want)
		}
	}
}

// TestAddSignerChecksContent: co-signing refuses a document the existing
// signers did not sign.
func TestAddSignerChecksContent(t *testing.T) {
	a, b := newIdentity(t, "gost256-TCA"), newIdentity(t, "gost512-A")
	detached, err := Sign(bytes.NewReader(testContent), a.key, a.cert, &SignOptions{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddSigner(detached, bytes.NewReader([]byte("other")), b.key, b.cert, nil); err == nil {
		t.Error("AddSigner co-signed other content")
	}
	if _, err := AddSigner(detached, nil, b.key, b.cert, nil); err == nil {
		t.Error("AddSigner without content for a detached SignedData")
	}
	attached, err := Sign(bytes.NewReader(testContent), a.key, a.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddSigner(attached, bytes.NewReader(testContent[:5]), b.key, b.cert, nil); err == nil {
		t.Error("AddSigner accepted content differing from the embedded one")
	}
	out, err := AddSigner(attached, bytes.NewReader(testContent), b.key, b.cert, &SignOptions{PEM: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("-----BEGIN CMS-----")) {
		t.Errorf("PEM output starts %q", out[:20])
	}
	if _, err := Verify(out, nil, &VerifyOptions{Roots: []*pki.Certificate{a.root, b.root}}); err != nil {
		t.Error(err)
	}
	// A key that is not the certificate's is refused before signing.
	if _, err := Sign(bytes.NewReader(testContent), a.key, b.cert, nil); err == nil {
		t.Error("Sign with a key not matching the certificate")
	}
}

var errBroken = errors.New("disk on fire")

func TestVerifyErrors(t *testing.T) {
	id := newIdentity(t, "ecdsa-p256")
	sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Content given for an attached SignedData must be the embedded one.
	opts := &VerifyOptions{Roots: []*pki.Certificate{id.root}}
	if _, err := Verify(sig, bytes.NewReader(testContent), opts); err != nil {
		t.Errorf("attached with its own content: %v", err)
	}
	for _, other := range [][]byte{testContent[1:], append(bytes.Clone(testContent), 'x'), flipAt(testContent, 3), {}} {
		if _, err := Verify(sig, bytes.NewReader(other), opts); reasonOf(err) != DigestMismatch {
			t.Errorf("attached with other content %q: %v", other, err)
		}
	}
	if _, err := Verify(sig[:len(sig)-1], nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
	// An unreadable content is no verdict on the signature: no result.
	detached, err := Sign(bytes.NewReader(testContent), id.key, id.cert, &SignOptions{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][]byte{sig, detached} {
		res, err := Verify(s, io.MultiReader(bytes.NewReader(testContent[:3]), iotest.ErrReader(errBroken)), opts)
		if res != nil || !errors.Is(err, errBroken) || errors.Is(err, ErrMalformed) {
			t.Errorf("unreadable content: %v, %v", res, err)
		}
	}
	// A signer certificate not embedded is found among Intermediates.
	sd, _ := Parse(sig)
	noCert, err := marshalSignedData(&signedDataFields{version: 1, contentType: oidData, content: sd.Content, signerInfos: [][]byte{sd.Signers[0].Raw}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(noCert, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}}); reasonOf(err) != CertificateNotFound {
		t.Errorf("no certificate: %v", err)
	}
	if _, err := Verify(noCert, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, Intermediates: []*pki.Certificate{id.cert}}); err != nil {
		t.Errorf("certificate given in options: %v", err)
	}
}

// TestSignatureAlgorithmOIDs: producers write different signatureAlgorithm
// OIDs for GOST (fact sheet §4.1); we and openssl accept the key OID, the
// sign-with-digest OID (with or without NULL parameters) and we also the
// GOST 2001 key OID, while an OID of another key family is refused.
func TestSignatureAlgorithmOIDs(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	p, err := prepareSigners([]Signer{{Key: id.key, Certificate: id.cert}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		ai      pkix.AlgorithmIdentifier
		want    Reason
		openssl bool
	}{
		{"key OID, NULL", pkix.AlgorithmIdentifier{Algorithm: gost.OIDPublicKey256, Parameters: asn1NULL}, 0, true},
		{"key OID, absent", pkix.AlgorithmIdentifier{Algorithm: gost.OIDPublicKey256}, 0, true},
		{"signwithdigest, absent", pkix.AlgorithmIdentifier{Algorithm: gost.OIDSignature256}, 0, true},
		{"signwithdigest, NULL", pkix.AlgorithmIdentifier{Algorithm: gost.OIDSignature256, Parameters: asn1NULL}, 0, true},
		{"GOST 2001 key OID", pkix.AlgorithmIdentifier{Algorithm: oidGOST2001}, 0, false},
		{"ecdsa-with-SHA256", pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, UnsupportedAlgorithm, false},
	} {
		s := p[0]
		if s.signatureAI, err = marshalAlgorithmIdentifier(tc.ai); err != nil {
			t.Fatal(err)
		}
		h := s.Algorithm.NewHash()
		h.Write(testContent)
		attrs, err := signedAttributes(s, h.Sum(nil), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		si, err := signAttributes(rand.Reader, s, attrs)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := marshalSignedData(&signedDataFields{version: 1, digestAlgorithms: [][]byte{s.digestAI},
			contentType: oidData, content: testContent, certificates: [][]byte{id.cert.Raw}, signerInfos: [][]byte{si}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(sig, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, RequireCAdES: true}); reasonOf(err) != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.openssl {
			if err := opensslVerify(t, id, sig, false, nil); err != nil {
				t.Errorf("%s: openssl: %v", tc.name, err)
			}
		}
	}
}

// BenchmarkVerifyDetached measures verifying a detached GOST-256 signature
// over 64 MiB: Streebog over the content dominates, so MB/s here is the
// hash speed seen through one io.MultiWriter pass.
func BenchmarkVerifyDetached(b *testing.B) {
	id := newIdentity(b, "gost256-TCA")
	const size = 64 << 20
	sig, err := Sign(&countingReader{n: size}, id.key, id.cert, &SignOptions{Detached: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Verify(sig, &countingReader{n: size}, &VerifyOptions{SkipChainVerification: true}); err != nil {
			b.Fatal(err)
		}
	}
}
