package pki

import (
	"context"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// verifyFuzzPool is the material FuzzVerifyChains picks from: the
// self-issued bomb with a root and cross certificates to it, a mesh of
// cross-signed CAs of one name, and the leaves under them.
func verifyFuzzPool(f *testing.F) []*Certificate {
	cas, xCA, leaf := selfIssuedBomb(f, 8)
	root := issue(f, caTemplate("root"), nil, testKey(f, "streebog512"))
	crossTmpl := caTemplate("one name")
	crossTmpl.SerialNumber = big.NewInt(1000)
	cross := issue(f, crossTmpl, root, xCA.key).cert
	expiredTmpl := caTemplate("one name")
	expiredTmpl.SerialNumber = big.NewInt(1001)
	expiredTmpl.NotAfter = testNow.Add(-time.Hour)
	expired := issue(f, expiredTmpl, root, xCA.key).cert
	serverTmpl := caTemplate("one name")
	serverTmpl.SerialNumber = big.NewInt(1002)
	serverTmpl.ExtKeyUsage = []asn1.ObjectIdentifier{OIDExtKeyUsageServerAuth}
	serverOnly := issue(f, serverTmpl, root, xCA.key).cert
	mesh, meshLeaf := crossSignedMesh(f, 5)
	pool := append([]*Certificate{leaf, meshLeaf, root.cert, cross, expired, serverOnly}, cas...)
	return append(pool, mesh...)
}

// FuzzVerifyChains builds chains over certificates the input picks from a
// pool made to provoke the search (one name, one key, cross signatures),
// some of them with a byte changed: whatever the pick, the search never
// panics, checks at most maxChainSignatureChecks signatures, and a chain
// it returns starts at the leaf, ends at a root and holds together.
//
// Input: byte 0 picks the leaf, byte 1 the number of roots (0 to 3) and
// byte 2 the purposes asked; then each byte picks a root, then an
// intermediate, from the pool; a byte 0xff takes the next three bytes as
// a pool index and a position and bit to flip in that certificate.
func FuzzVerifyChains(f *testing.F) {
	pool := verifyFuzzPool(f)
	f.Add([]byte{0, 1, 0, 2, 6, 7, 8, 9, 10, 11, 12, 13, 3})
	f.Add([]byte{0, 0, 1, 6, 7, 8, 9, 10, 11, 12, 13})
	f.Add([]byte{0, 1, 2, 2, 4, 5, 3, 6})
	f.Add([]byte{1, 0, 0, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33})
	f.Add([]byte{0, 1, 0, 2, 0xff, 3, 100, 3, 3, 6})
	purposeSets := [][]asn1.ObjectIdentifier{nil, {OIDExtKeyUsageEmailProtection}, {OIDExtKeyUsageServerAuth, OIDExtKeyUsageClientAuth}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 || len(data) > 200 {
			return
		}
		pick := func(b byte) *Certificate { return pool[int(b)%len(pool)] }
		leaf := pick(data[0])
		nRoots := int(data[1] % 4)
		opts := VerifyOptions{CurrentTime: testNow, ExtKeyUsage: purposeSets[int(data[2])%len(purposeSets)]}
		for i := 3; i < len(data); i++ {
			c := pick(data[i])
			if data[i] == 0xff && i+3 < len(data) {
				c = mutated(pick(data[i+1]), data[i+2], data[i+3])
				i += 3
				if c == nil {
					continue
				}
			}
			if len(opts.Roots) < nRoots {
				opts.Roots = append(opts.Roots, c)
			} else {
				opts.Intermediates = append(opts.Intermediates, c)
			}
		}
		v := newVerifier(context.Background(), opts)
		chain, err := v.verify(leaf)
		if v.sigChecks > maxChainSignatureChecks {
			t.Fatalf("%d signature checks", v.sigChecks)
		}
		if err != nil {
			if chain != nil {
				t.Fatal("a chain with an error")
			}
			return
		}
		if len(chain) == 0 || len(chain) > maxChainLength || !chain[0].Equal(leaf) || !v.isRoot(chain[len(chain)-1]) {
			t.Fatalf("chain of %d certificates from %v", len(chain), chain[0].SerialNumber)
		}
		for i := 0; i+1 < len(chain); i++ {
			if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
				t.Fatalf("link %d: %v", i, err)
			}
		}
	})
}

// mutated is c with bit (bit % 8) of byte (pos scaled to c's length)
// flipped, parsed again; nil if it no longer parses.
func mutated(c *Certificate, pos, bit byte) *Certificate {
	der := append([]byte(nil), c.Raw...)
	der[int(pos)*len(der)/256] ^= 1 << (bit % 8)
	m, err := ParseCertificate(der)
	if err != nil {
		return nil
	}
	return m
}
