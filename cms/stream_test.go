package cms

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

// seededRand is a deterministic randomness source, so that two signings
// of the same digest with the same key give the same signature.
func seededRand() io.Reader { return rand.NewChaCha8([32]byte{1, 2, 3}) }

// streamContent is n deterministic bytes.
func streamContent(n int64) []byte {
	b, err := io.ReadAll(&countingReader{n: n})
	if err != nil {
		panic(err)
	}
	return b
}

// opensslVerifyFile runs openssl cms -verify on a signature file and
// returns the content it wrote.
func opensslVerifyFile(t *testing.T, id *identity, sigFile, form string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "content")
	testkit.OpenSSL(t, nil, "cms", "-verify", "-binary", "-inform", form, "-in", sigFile, "-CAfile", id.rootFile, "-out", out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSignStream: with the size known SignStream writes exactly what
// SignMulti does (DER, PEM); without it indefinite-length BER. OpenSSL
// accepts both, over 20 MiB for one GOST key.
func TestSignStream(t *testing.T) {
	signedAt := time.Now().Truncate(time.Second)
	for _, tc := range []struct {
		kind string
		size int64
	}{{"gost256-TCA", 20 << 20}, {"gost512-A", int64(len(testContent))}, {"rsa-2048", 0}, {"ecdsa-p256", 1000}} {
		t.Run(tc.kind, func(t *testing.T) {
			id := newIdentity(t, tc.kind)
			content := streamContent(tc.size)
			signers := []Signer{{Key: id.key, Certificate: id.cert}}
			_, fixed := signatureSize(id.cert.PublicKey)
			for _, asPEM := range []bool{false, true} {
				want, err := SignMulti(bytes.NewReader(content), signers, &SignOptions{SigningTime: signedAt, Rand: seededRand(), PEM: asPEM})
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := SignStream(&got, bytes.NewReader(content), tc.size, signers, &SignOptions{SigningTime: signedAt, Rand: seededRand(), PEM: asPEM}); err != nil {
					t.Fatal(err)
				}
				switch {
				case fixed && !bytes.Equal(got.Bytes(), want):
					t.Errorf("PEM=%v: the streamed definite-length signature differs from SignMulti's (%d vs %d bytes)", asPEM, got.Len(), len(want))
				case !fixed && !asPEM && !bytes.HasPrefix(got.Bytes(), []byte{0x30, 0x80}):
					// ECDSA signatures vary in length: indefinite lengths.
					t.Errorf("ECDSA stream starts %x, want indefinite length", got.Bytes()[:2])
				}
				if _, err := Verify(got.Bytes(), nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, RequireCAdES: true}); err != nil {
					t.Errorf("PEM=%v: %v", asPEM, err)
				}
			}

			var ber bytes.Buffer
			if err := SignStream(&ber, bytes.NewReader(content), -1, signers, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(ber.Bytes(), []byte{0x30, 0x80}) {
				t.Fatalf("size unknown: starts %x, want indefinite length", ber.Bytes()[:2])
			}
			res, err := Verify(ber.Bytes(), nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, RequireCAdES: true})
			if err != nil || !bytes.Equal(res.Content, content) {
				t.Fatalf("indefinite-length stream: %v", err)
			}
			var definite bytes.Buffer
			if err := SignStream(&definite, bytes.NewReader(content), tc.size, signers, nil); err != nil {
				t.Fatal(err)
			}
			for name, sig := range map[string][]byte{"definite": definite.Bytes(), "indefinite": ber.Bytes()} {
				if got := opensslVerifyFile(t, id, testkit.WriteFile(t, "sig", sig), "DER"); !bytes.Equal(got, content) {
					t.Errorf("%s: openssl gives %d bytes of content, want %d", name, len(got), len(content))
				}
			}

			for _, size := range []int64{tc.size + 1, tc.size - 1} {
				if size < 0 {
					continue
				}
				if err := SignStream(io.Discard, bytes.NewReader(content), size, signers, nil); err == nil {
					t.Errorf("content of %d bytes announced as %d: no error", tc.size, size)
				}
			}
		})
	}
}
