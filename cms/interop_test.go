package cms

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

var testContent = []byte("Документ для подписи: gostkey CMS interop\n")

// opensslVerify runs `openssl cms -verify -cades` (fact sheet §4.5) on a
// signature we made.
func opensslVerify(t *testing.T, id *identity, sig []byte, asPEM bool, content []byte) error {
	t.Helper()
	form := "DER"
	if asPEM {
		form = "PEM"
	}
	args := []string{"cms", "-verify", "-cades", "-binary", "-inform", form, "-in", testkit.WriteFile(t, "sig", sig),
		"-CAfile", id.rootFile, "-purpose", "any", "-out", filepath.Join(t.TempDir(), "out")}
	if content != nil {
		args = append(args, "-content", testkit.WriteFile(t, "content", content))
	}
	_, err := testkit.TryOpenSSL(t, nil, args...)
	return err
}

// fullInterop says whether a key kind gets every output form and negative
// control, or (to keep the run short) attached DER and detached PEM only:
// the encodings do not depend on the curve.
func fullInterop(kind string) bool {
	for _, k := range tamperKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// TestOpenSSLVerifiesOurs: attached and detached CAdES-BES made by Sign for
// every key kind pass openssl cms -verify -cades, in DER and PEM.
func TestOpenSSLVerifiesOurs(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind.name, func(t *testing.T) {
			id := newIdentity(t, kind.name)
			for _, tc := range []struct {
				name            string
				detached, asPEM bool
			}{{"attached-der", false, false}, {"detached-pem", true, true}, {"attached-pem", false, true}, {"detached-der", true, false}} {
				if !fullInterop(kind.name) && (tc.name == "attached-pem" || tc.name == "detached-der") {
					continue
				}
				sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, &SignOptions{Detached: tc.detached, PEM: tc.asPEM})
				if err != nil {
					t.Fatalf("%s: Sign: %v", tc.name, err)
				}
				var content []byte
				if tc.detached {
					content = testContent
				}
				if err := opensslVerify(t, id, sig, tc.asPEM, content); err != nil {
					t.Errorf("%s: openssl rejects our signature: %v", tc.name, err)
				}
				// And the negative control: openssl must refuse other content.
				if tc.detached && fullInterop(kind.name) {
					if err := opensslVerify(t, id, sig, tc.asPEM, []byte("other")); err == nil {
						t.Errorf("%s: openssl accepts our signature over other content", tc.name)
					}
				}
			}
		})
	}
}

// TestWeVerifyOpenSSL: what `openssl cms -sign` makes (attached/detached,
// DER/PEM, CAdES, without attributes, streamed BER) verifies with us, with
// the right certificate, digest and signing time.
func TestWeVerifyOpenSSL(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind.name, func(t *testing.T) {
			id := newIdentity(t, kind.name)
			md := "sha256"
			switch alg, _ := pki.DefaultSignatureAlgorithm(id.cert.PublicKey); alg {
			case pki.GOST256:
				md = "md_gost12_256"
			case pki.GOST512:
				md = "md_gost12_512"
			}
			contentFile := testkit.WriteFile(t, "content", testContent)
			for _, tc := range []struct {
				name     string
				extra    []string
				detached bool
				cades    bool
			}{
				{"attached-der", []string{"-nodetach", "-outform", "DER"}, false, true},
				{"detached-der", []string{"-outform", "DER"}, true, true},
				{"attached-pem", []string{"-nodetach", "-outform", "PEM"}, false, true},
				{"detached-pem", []string{"-outform", "PEM"}, true, true},
				{"attached-ber-stream", []string{"-nodetach", "-outform", "DER", "-stream"}, false, true},
				{"detached-noattr", []string{"-outform", "DER", "-noattr"}, true, false},
				{"attached-keyid", []string{"-nodetach", "-outform", "DER", "-keyid"}, false, true},
			} {
				if !fullInterop(kind.name) && tc.name != "attached-der" && tc.name != "detached-pem" {
					continue
				}
				args := []string{"cms", "-sign", "-binary", "-in", contentFile, "-signer", id.certFile, "-inkey", id.keyFile, "-md", md}
				if tc.cades {
					args = append(args, "-cades")
				}
				before := time.Now().Add(-2 * time.Second)
				sig := testkit.OpenSSL(t, nil, append(args, tc.extra...)...)
				var content *bytes.Reader
				if tc.detached {
					content = bytes.NewReader(testContent)
				}
				res, err := verifyReader(sig, content, &VerifyOptions{Roots: []*pki.Certificate{id.root}, RequireCAdES: tc.cades})
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if len(res.Signers) != 1 {
					t.Fatalf("%s: %d signers", tc.name, len(res.Signers))
				}
				s := res.Signers[0]
				if !bytes.Equal(s.Certificate.Raw, id.cert.Raw) || len(s.Chain) != 2 || !bytes.Equal(s.Chain[1].Raw, id.root.Raw) {
					t.Errorf("%s: wrong certificate or chain", tc.name)
				}
				if s.CAdES != tc.cades || s.SignedAttributes != tc.cades {
					t.Errorf("%s: CAdES=%v SignedAttributes=%v", tc.name, s.CAdES, s.SignedAttributes)
				}
				if tc.cades && (s.SigningTime.Before(before.Truncate(time.Second)) || s.SigningTime.After(time.Now())) {
					t.Errorf("%s: signing time %v", tc.name, s.SigningTime)
				}
				if !tc.detached && !bytes.Equal(res.Content, testContent) {
					t.Errorf("%s: content %q", tc.name, res.Content)
				}
				// Other content must fail with DigestMismatch (or
				// BadSignature without signed attributes).
				if tc.detached {
					_, err := Verify(sig, bytes.NewReader([]byte("other")), &VerifyOptions{Roots: []*pki.Certificate{id.root}})
					want := DigestMismatch
					if !tc.cades {
						want = BadSignature
					}
					if reasonOf(err) != want {
						t.Errorf("%s: other content: %v, want %v", tc.name, err, want)
					}
				}
			}
		})
	}
}

// verifyReader calls Verify with a nil io.Reader (not a typed nil) for
// attached signatures.
func verifyReader(sig []byte, content *bytes.Reader, opts *VerifyOptions) (*VerifyResult, error) {
	if content == nil {
		return Verify(sig, nil, opts)
	}
	return Verify(sig, content, opts)
}

func reasonOf(err error) Reason {
	var se *SignerError
	if errors.As(err, &se) {
		return se.Reason
	}
	return 0
}

// TestOpenSSLVerifiesCoSigned: one SignedData signed by a GOST-256, a
// GOST-512 and an ECDSA signer (SignMulti), then co-signed by one more
// (AddSigner): openssl verifies every signer, and AddSigner kept the
// existing SignerInfos byte for byte.
func TestOpenSSLVerifiesCoSigned(t *testing.T) {
	a, b, c, d := newIdentity(t, "gost256-TCA"), newIdentity(t, "gost512-C"), newIdentity(t, "ecdsa-p256"), newIdentity(t, "gost256-XB")
	caFile := filepath.Join(t.TempDir(), "roots.pem")
	var roots []byte
	for _, id := range []*identity{a, b, c, d} {
		data, err := os.ReadFile(id.rootFile)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, data...)
	}
	if err := os.WriteFile(caFile, roots, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, detached := range []bool{false, true} {
		var content []byte
		if detached {
			content = testContent
		}
		sig, err := SignMulti(bytes.NewReader(testContent), []Signer{
			{Key: a.key, Certificate: a.cert}, {Key: b.key, Certificate: b.cert}, {Key: c.key, Certificate: c.cert},
		}, &SignOptions{Detached: detached})
		if err != nil {
			t.Fatal(err)
		}
		sig2, err := AddSigner(sig, bytes.NewReader(testContent), d.key, d.cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := Parse(sig)
		after, _ := Parse(sig2)
		if len(after.Signers) != 4 {
			t.Fatalf("%d signers after AddSigner", len(after.Signers))
		}
		for _, old := range before.Signers {
			found := false
			for _, si := range after.Signers {
				found = found || bytes.Equal(si.Raw, old.Raw)
			}
			if !found {
				t.Error("AddSigner altered an existing SignerInfo")
			}
		}
		for i, s := range [][]byte{sig, sig2} {
			args := []string{"cms", "-verify", "-cades", "-binary", "-inform", "DER", "-in", testkit.WriteFile(t, "sig", s),
				"-CAfile", caFile, "-purpose", "any", "-out", filepath.Join(t.TempDir(), "out")}
			if detached {
				args = append(args, "-content", testkit.WriteFile(t, "content", content))
			}
			if _, err := testkit.TryOpenSSL(t, nil, args...); err != nil {
				t.Errorf("detached=%v step %d: openssl rejects the co-signed SignedData: %v", detached, i, err)
			}
		}
		var r *bytes.Reader
		if detached {
			r = bytes.NewReader(content)
		}
		res, err := verifyReader(sig2, r, &VerifyOptions{Roots: []*pki.Certificate{a.root, b.root, c.root, d.root}, RequireCAdES: true})
		if err != nil {
			t.Fatalf("detached=%v: %v", detached, err)
		}
		if len(res.Signers) != 4 {
			t.Errorf("%d signer results", len(res.Signers))
		}
	}
}

// TestAddSignerToOpenSSL: a signer added by AddSigner to a SignedData that
// openssl made leaves openssl's signature intact: openssl verifies both.
func TestAddSignerToOpenSSL(t *testing.T) {
	a, b := newIdentity(t, "gost256-TCB"), newIdentity(t, "gost512-B")
	sig := testkit.OpenSSL(t, nil, "cms", "-sign", "-cades", "-binary", "-in", testkit.WriteFile(t, "content", testContent),
		"-signer", a.certFile, "-inkey", a.keyFile, "-md", "md_gost12_256", "-outform", "PEM")
	cosigned, err := AddSigner(sig, bytes.NewReader(testContent), b.key, b.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	var roots []byte
	for _, f := range []string{a.rootFile, b.rootFile} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, data...)
	}
	testkit.OpenSSL(t, nil, "cms", "-verify", "-cades", "-binary", "-inform", "DER", "-in", testkit.WriteFile(t, "sig", cosigned),
		"-content", testkit.WriteFile(t, "content", testContent), "-CAfile", testkit.WriteFile(t, "roots.pem", roots),
		"-purpose", "any", "-out", filepath.Join(t.TempDir(), "out"))
	res, err := Verify(cosigned, bytes.NewReader(testContent), &VerifyOptions{Roots: []*pki.Certificate{a.root, b.root}, RequireCAdES: true})
	if err != nil || len(res.Signers) != 2 {
		t.Fatalf("%v, %d signers", err, len(res.Signers))
	}
}

// TestOpenSSLCoSignsOurs: openssl cms -resign adds a signer to a SignedData
// we made; both signatures verify with us.
func TestOpenSSLCoSignsOurs(t *testing.T) {
	a, b := newIdentity(t, "gost256-C"), newIdentity(t, "gost256-TCD")
	sig, err := Sign(bytes.NewReader(testContent), a.key, a.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	cosigned := testkit.OpenSSL(t, nil, "cms", "-resign", "-cades", "-binary", "-inform", "DER", "-in", testkit.WriteFile(t, "sig", sig),
		"-signer", b.certFile, "-inkey", b.keyFile, "-md", "md_gost12_256", "-outform", "DER")
	res, err := Verify(cosigned, nil, &VerifyOptions{Roots: []*pki.Certificate{a.root, b.root}, RequireCAdES: true})
	if err != nil || len(res.Signers) != 2 || !bytes.Equal(res.Content, testContent) {
		t.Fatalf("%v, %d signers", err, len(res.Signers))
	}
}
