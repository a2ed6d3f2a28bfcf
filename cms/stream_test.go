package cms

import (
	"bytes"
	"context"
	"errors"
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
			var berPEM bytes.Buffer
			if err := SignStream(&berPEM, bytes.NewReader(content), -1, signers, &SignOptions{PEM: true}); err != nil {
				t.Fatal(err)
			}
			for _, v := range []struct {
				name, form string
				sig        []byte
			}{{"definite", "DER", definite.Bytes()}, {"indefinite", "DER", ber.Bytes()}, {"indefinite PEM", "PEM", berPEM.Bytes()}} {
				if got := opensslVerifyFile(t, id, testkit.WriteFile(t, "sig", v.sig), v.form); !bytes.Equal(got, content) {
					t.Errorf("%s: openssl gives %d bytes of content, want %d", v.name, len(got), len(content))
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

// streamVerify runs VerifyStream on sig with content copied to a buffer.
func streamVerify(sig []byte, content io.Reader, opts *VerifyOptions) (*VerifyResult, []byte, error) {
	var out bytes.Buffer
	res, err := VerifyStream(context.Background(), bytes.NewReader(sig), content, &out, opts)
	return res, out.Bytes(), err
}

// TestVerifyStream: what SignStream, Sign and `openssl cms -sign` (with
// and without -stream, DER and PEM) write verifies through VerifyStream
// as through Verify, with the embedded content streamed out.
func TestVerifyStream(t *testing.T) {
	id := newIdentity(t, "gost512-A")
	content := streamContent(300<<10 + 5)
	signers := []Signer{{Key: id.key, Certificate: id.cert}}
	opts := &VerifyOptions{Roots: []*pki.Certificate{id.root}, RequireCAdES: true}
	sigs := map[string][]byte{}
	for _, tc := range []struct {
		name  string
		size  int64
		asPEM bool
	}{{"stream-definite", int64(len(content)), false}, {"stream-indefinite", -1, false}, {"stream-definite-pem", int64(len(content)), true}, {"stream-indefinite-pem", -1, true}} {
		var b bytes.Buffer
		if err := SignStream(&b, bytes.NewReader(content), tc.size, signers, &SignOptions{PEM: tc.asPEM}); err != nil {
			t.Fatal(err)
		}
		sigs[tc.name] = b.Bytes()
	}
	contentFile := testkit.WriteFile(t, "content", content)
	for name, extra := range map[string][]string{
		"openssl-der":        {"-outform", "DER"},
		"openssl-stream-der": {"-outform", "DER", "-stream"},
		"openssl-pem":        {"-outform", "PEM"},
		"openssl-stream-pem": {"-outform", "PEM", "-stream"},
	} {
		sigs[name] = testkit.OpenSSL(t, nil, append([]string{"cms", "-sign", "-binary", "-nodetach", "-cades", "-md", "md_gost12_512",
			"-in", contentFile, "-signer", id.certFile, "-inkey", id.keyFile}, extra...)...)
	}
	if !bytes.Contains(sigs["openssl-stream-der"][:200], []byte{0x24, 0x80}) {
		t.Fatal("openssl -stream did not write a constructed indefinite-length OCTET STRING; the test lost its point")
	}
	for name, sig := range sigs {
		res, out, err := streamVerify(sig, nil, opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(out, content) || res.Content != nil || res.Detached {
			t.Errorf("%s: %d bytes out, want %d", name, len(out), len(content))
		}
		if s := res.Signers[0]; !bytes.Equal(s.Certificate.Raw, id.cert.Raw) || len(s.Chain) != 2 || !s.CAdES || s.TimeBasis != TimeNow {
			t.Errorf("%s: signer %+v", name, s)
		}
		// The same document given beside it, and another one.
		if _, _, err := streamVerify(sig, bytes.NewReader(content), opts); err != nil {
			t.Errorf("%s with its content: %v", name, err)
		}
		for _, other := range [][]byte{content[:len(content)-1], append(bytes.Clone(content), 0), flipAt(content, 1000)} {
			if _, _, err := streamVerify(sig, bytes.NewReader(other), opts); reasonOf(err) != DigestMismatch {
				t.Errorf("%s with other content: %v, want %v", name, err, DigestMismatch)
			}
		}
	}

	// Detached: out gets nothing, the content is digested.
	detached, err := Sign(bytes.NewReader(content), id.key, id.cert, &SignOptions{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	if res, out, err := streamVerify(detached, bytes.NewReader(content), opts); err != nil || len(out) != 0 || !res.Detached {
		t.Errorf("detached: %v, %d bytes out", err, len(out))
	}
	if _, _, err := streamVerify(detached, nil, opts); reasonOf(err) != ContentMissing {
		t.Errorf("detached without content: %v", err)
	}

	// A tampered content byte fails the signer, after streaming it out.
	sig := sigs["stream-indefinite"]
	at := bytes.Index(sig, content[:64])
	if _, _, err := streamVerify(flipAt(sig, at+70000), nil, opts); reasonOf(err) != DigestMismatch {
		t.Errorf("tampered content: %v", err)
	}
}

// TestVerifyStreamMalformed: input cut anywhere, or with bytes after it,
// is ErrMalformed, never a valid result.
func TestVerifyStreamMalformed(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	for _, size := range []int64{int64(len(testContent)), -1} {
		var b bytes.Buffer
		if err := SignStream(&b, bytes.NewReader(testContent), size, []Signer{{Key: id.key, Certificate: id.cert}}, nil); err != nil {
			t.Fatal(err)
		}
		sig := b.Bytes()
		for n := range len(sig) {
			if _, _, err := streamVerify(sig[:n], nil, &VerifyOptions{SkipChainVerification: true}); !errors.Is(err, ErrMalformed) {
				t.Fatalf("size %d, cut at %d of %d: %v, want ErrMalformed", size, n, len(sig), err)
			}
		}
		if _, _, err := streamVerify(append(bytes.Clone(sig), 0), nil, &VerifyOptions{SkipChainVerification: true}); !errors.Is(err, ErrMalformed) {
			t.Errorf("size %d, trailing byte: %v, want ErrMalformed", size, err)
		}
	}
}

// failingWriter accepts n bytes, then fails.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestStreamWriteErrors: a failing output is the caller's I/O error, not
// a malformed signature, whether SignStream writes it or VerifyStream
// streams content into it.
func TestStreamWriteErrors(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	content := streamContent(200 << 10)
	signers := []Signer{{Key: id.key, Certificate: id.cert}}
	for _, size := range []int64{int64(len(content)), -1} {
		for _, at := range []int{0, 100, 150 << 10} {
			err := SignStream(&failingWriter{n: at}, bytes.NewReader(content), size, signers, &SignOptions{PEM: at == 100})
			if !errors.Is(err, errDiskFull) {
				t.Errorf("SignStream, size %d, writer failing after %d bytes: %v", size, at, err)
			}
		}
	}
	var sig bytes.Buffer
	if err := SignStream(&sig, bytes.NewReader(content), -1, signers, nil); err != nil {
		t.Fatal(err)
	}
	_, err := VerifyStream(context.Background(), bytes.NewReader(sig.Bytes()), nil, &failingWriter{n: 100 << 10}, &VerifyOptions{SkipChainVerification: true})
	if !errors.Is(err, errDiskFull) || errors.Is(err, ErrMalformed) {
		t.Errorf("VerifyStream into a failing writer: %v", err)
	}
}
