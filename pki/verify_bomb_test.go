package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"
)

// selfIssuedBomb makes n self-issued CA certificates of one name and one
// key, each of which verifies as the issuer of every other, and a leaf
// that key signed: the input that made the unbounded search try every
// ordering of them (issue 7, item 2).
func selfIssuedBomb(t testing.TB, n int) ([]*Certificate, *testCert, *Certificate) {
	t.Helper()
	key := testKey(t, "streebog256")
	var cas []*Certificate
	var first *testCert
	for i := range n {
		tmpl := caTemplate("one name")
		tmpl.SerialNumber = big.NewInt(int64(i + 1))
		tc := issue(t, tmpl, nil, key)
		if first == nil {
			first = tc
		}
		cas = append(cas, tc.cert)
	}
	leaf := issue(t, leafTemplate(), first, testKey(t, "p256")).cert
	return cas, first, leaf
}

// verifyCounting runs the chain search and returns how many signatures it
// checked.
func verifyCounting(ctx context.Context, leaf *Certificate, opts VerifyOptions) ([]*Certificate, int, error) {
	v := newVerifier(ctx, opts)
	chain, err := v.verify(leaf)
	return chain, v.sigChecks, err
}

func TestVerifySelfIssuedBomb(t *testing.T) {
	for _, n := range []int{8, 9, 12} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cas, xCA, leaf := selfIssuedBomb(t, n)
			// A root of another name, and a cross certificate from it to
			// the bomb's name and key, last among the intermediates.
			root := issue(t, caTemplate("root"), nil, testKey(t, "streebog512"))
			crossTmpl := caTemplate("one name")
			crossTmpl.SerialNumber = big.NewInt(1000)
			cross := issue(t, crossTmpl, root, xCA.key).cert
			expiredTmpl := caTemplate("one name")
			expiredTmpl.SerialNumber = big.NewInt(1001)
			expiredTmpl.NotAfter = testNow.Add(-time.Hour)
			expiredCross := issue(t, expiredTmpl, root, xCA.key).cert

			tests := []struct {
				name    string
				opts    VerifyOptions
				chain   []*Certificate // nil: an error is wanted
				reason  InvalidReason
				culprit *Certificate
			}{
				{"no root", VerifyOptions{Intermediates: cas}, nil, UnknownAuthority, nil},
				{"other root only", VerifyOptions{Roots: []*Certificate{root.cert}, Intermediates: cas}, nil, UnknownAuthority, nil},
				{"through the cross certificate", VerifyOptions{Roots: []*Certificate{root.cert}, Intermediates: append(cas[:n:n], cross)},
					[]*Certificate{leaf, cross, root.cert}, 0, nil},
				{"cross certificate expired", VerifyOptions{Roots: []*Certificate{root.cert}, Intermediates: append(cas[:n:n], expiredCross)},
					nil, Expired, expiredCross},
				{"one of them trusted", VerifyOptions{Roots: cas[n-1:], Intermediates: cas[:n-1]}, []*Certificate{leaf, cas[n-1]}, 0, nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.opts.CurrentTime = testNow
					chain, checks, err := verifyCounting(context.Background(), leaf, tt.opts)
					if checks > maxChainSignatureChecks {
						t.Errorf("%d signature checks, more than the cap of %d", checks, maxChainSignatureChecks)
					}
					if tt.chain != nil {
						if err != nil || !chainsEqual(chain, tt.chain) {
							t.Fatalf("got %s, %v; want %s", chainNames(chain), err, chainNames(tt.chain))
						}
						return
					}
					var ce *CertificateInvalidError
					if !errors.As(err, &ce) || ce.Reason != tt.reason {
						t.Fatalf("got %s, %v; want reason %v", chainNames(chain), err, tt.reason)
					}
					if tt.culprit != nil && !ce.Cert.Equal(tt.culprit) {
						t.Errorf("error names serial %v, want %v", ce.Cert.SerialNumber, tt.culprit.SerialNumber)
					}
				})
			}
		})
	}
}

// TestVerifySignatureCheckCap: a search that runs out of signature checks
// ends with TooManySignatureChecks, having checked exactly the allowance.
func TestVerifySignatureCheckCap(t *testing.T) {
	cas, _, leaf := selfIssuedBomb(t, 8)
	v := newVerifier(context.Background(), VerifyOptions{Intermediates: cas, CurrentTime: testNow})
	v.maxSigChecks = 3
	chain, err := v.verify(leaf)
	var ce *CertificateInvalidError
	if !errors.As(err, &ce) || ce.Reason != TooManySignatureChecks || !ce.Cert.Equal(leaf) || chain != nil {
		t.Fatalf("got %d certificates, %v; want TooManySignatureChecks", len(chain), err)
	}
	if v.sigChecks != 3 {
		t.Errorf("%d signature checks, want 3", v.sigChecks)
	}
}

// crossSignedMesh makes, for k keys, a certificate of one name for every
// key signed by every other key, and a leaf signed by the first key: every
// ordering of the keys is a path, which no rule about repeated subjects
// and keys prunes.
func crossSignedMesh(t testing.TB, k int) ([]*Certificate, *Certificate) {
	t.Helper()
	keys := make([]crypto.Signer, k)
	for i := range keys {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = key
	}
	self := make([]*testCert, k)
	for i, key := range keys {
		self[i] = issue(t, caTemplate("mesh"), nil, key)
	}
	var mesh []*Certificate
	for i := range keys {
		for j := range keys {
			if i != j {
				tmpl := caTemplate("mesh")
				tmpl.SerialNumber = big.NewInt(int64(10*i + j))
				mesh = append(mesh, issue(t, tmpl, self[j], keys[i]).cert)
			}
		}
	}
	return mesh, issue(t, leafTemplate(), self[0], testKey(t, "p256")).cert
}

func TestVerifyCrossSignedMesh(t *testing.T) {
	// 5 keys: 4 signatures from the leaf and 4 from each of the 16 mesh
	// certificates not signed by the leaf's key (the issuers of those have
	// that key, already in the chain), each pair checked once however many
	// paths pass it.
	mesh, leaf := crossSignedMesh(t, 5)
	chain, checks, err := verifyCounting(context.Background(), leaf, VerifyOptions{Intermediates: mesh, CurrentTime: testNow})
	var ce *CertificateInvalidError
	if !errors.As(err, &ce) || ce.Reason != UnknownAuthority || chain != nil || checks != 4+16*4 {
		t.Fatalf("5 keys: %d certificates, %d signature checks, %v; want UnknownAuthority after 68 checks", len(chain), checks, err)
	}
	// 6 keys would need 5+25*5 checks: more than the allowance.
	mesh, leaf = crossSignedMesh(t, 6)
	chain, checks, err = verifyCounting(context.Background(), leaf, VerifyOptions{Intermediates: mesh, CurrentTime: testNow})
	if !errors.As(err, &ce) || ce.Reason != TooManySignatureChecks || chain != nil || checks != maxChainSignatureChecks {
		t.Fatalf("6 keys: %d certificates, %d signature checks, %v; want TooManySignatureChecks after %d", len(chain), checks, err, maxChainSignatureChecks)
	}
}

// TestVerifyLayeredCrossCertificates: layers of CAs, each certificate
// cross-signed by every CA of the layer above, and no root: 2^8 paths, but
// no certificate's issuers are explored twice at the same depth.
func TestVerifyLayeredCrossCertificates(t *testing.T) {
	const width, layers = 2, 9
	keys := make([][]crypto.Signer, layers)
	self := make([][]*testCert, layers)
	for l := range layers {
		for range width {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			keys[l] = append(keys[l], key)
			self[l] = append(self[l], issue(t, caTemplate(fmt.Sprint("layer ", l)), nil, key))
		}
	}
	var pool []*Certificate
	for l := range layers - 1 {
		for i, key := range keys[l] {
			for j := range width {
				tmpl := caTemplate(fmt.Sprint("layer ", l))
				tmpl.SerialNumber = big.NewInt(int64(10*i + j + 1))
				pool = append(pool, issue(t, tmpl, self[l+1][j], key).cert)
			}
		}
	}
	leaf := issue(t, leafTemplate(), self[0][0], testKey(t, "p256")).cert
	v := newVerifier(context.Background(), VerifyOptions{Intermediates: pool, CurrentTime: testNow})
	_, err := v.verify(leaf)
	var ce *CertificateInvalidError
	if !errors.As(err, &ce) || ce.Reason != UnknownAuthority {
		t.Fatalf("got %v, want UnknownAuthority", err)
	}
	// The leaf, then the layer-0 certificate of key 0 signed by each
	// layer-1 key, then every certificate of layers 1 to 7 once.
	if want := 1 + width + (layers-2)*width*width; v.expanded > want {
		t.Errorf("%d search states explored, want at most %d", v.expanded, want)
	}
	if v.sigChecks > maxChainSignatureChecks {
		t.Errorf("%d signature checks", v.sigChecks)
	}
}

func TestVerifyContextCancelled(t *testing.T) {
	cas, _, leaf := selfIssuedBomb(t, 8)
	opts := VerifyOptions{Intermediates: cas, CurrentTime: testNow}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	chain, checks, err := verifyCounting(ctx, leaf, opts)
	if !errors.Is(err, context.Canceled) || chain != nil || checks != 0 {
		t.Fatalf("cancelled before: %d certificates, %d signature checks, %v", len(chain), checks, err)
	}
	if _, err := leaf.VerifyContext(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("VerifyContext: %v", err)
	}

	// Cancelled while it runs: no signature is checked after the one
	// during which the cancellation came.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	v := newVerifier(ctx, opts)
	v.afterCheck = func() {
		if v.sigChecks == 2 {
			cancel()
		}
	}
	chain, err = v.verify(leaf)
	if !errors.Is(err, context.Canceled) || chain != nil || v.sigChecks != 2 {
		t.Fatalf("cancelled during: %d certificates, %d signature checks, %v", len(chain), v.sigChecks, err)
	}
}

func chainsEqual(a, b []*Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func chainNames(chain []*Certificate) string {
	s := "["
	for i, c := range chain {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s#%v", c.Subject.CommonName, c.SerialNumber)
	}
	return s + "]"
}
