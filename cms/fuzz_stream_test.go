package cms

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"testing"
)

// FuzzBERToDER: the BER normaliser never panics; what it accepts it maps
// to a fixed point (normalising its output changes nothing), and the
// streaming parser finds the same element boundaries in the input.
func FuzzBERToDER(f *testing.F) {
	fuzzSeeds(f)
	for _, s := range []string{"300602010104010a", "3080020101040161" + "0000", "30810302010a",
		"24800402616204016300" + "00", "3080a0802480040161000000000000", "3f8101028080", "0480"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		der, err := berToDER(data)
		if err != nil {
			return
		}
		again, err := berToDER(der)
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("normalising %x gave %x, then %x (%v)", data, der, again, err)
		}
		p := &streamParser{r: bufio.NewReader(bytes.NewReader(data)), limit: math.MaxInt64}
		raw, err := p.element()
		if err != nil || !bytes.Equal(raw, data) {
			t.Fatalf("the streaming parser read %x (%v) from %x", raw, err, data)
		}
		if _, err := p.r.Peek(1); !errors.Is(err, io.EOF) {
			t.Fatalf("the streaming parser left input after %x", data)
		}
	})
}

// FuzzVerifyStream: VerifyStream never panics and agrees with Verify
// wherever Verify reads the input: the same signers valid, the same
// embedded content. (VerifyStream reads a little more: lengths of more
// than four octets, for contents over 4 GiB.)
func FuzzVerifyStream(f *testing.F) {
	fuzzSeeds(f)
	id := newIdentity(f, "gost256-TCA")
	for _, size := range []int64{int64(len(testContent)), -1} {
		for _, asPEM := range []bool{false, true} {
			var b bytes.Buffer
			if err := SignStream(&b, bytes.NewReader(testContent), size, []Signer{{Key: id.key, Certificate: id.cert}}, &SignOptions{PEM: asPEM}); err != nil {
				f.Fatal(err)
			}
			f.Add(b.Bytes())
		}
	}
	opts := &VerifyOptions{SkipChainVerification: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		got, gotErr := VerifyStream(context.Background(), bytes.NewReader(data), nil, &out, opts)
		want, wantErr := Verify(data, nil, opts)
		if want == nil {
			return
		}
		if got == nil {
			t.Fatalf("VerifyStream: %v; Verify: %v", gotErr, wantErr)
		}
		if len(got.Signers) != len(want.Signers) || got.Detached != want.Detached || !got.ContentType.Equal(want.ContentType) {
			t.Fatalf("VerifyStream found %d signers (detached %v), Verify %d (%v)", len(got.Signers), got.Detached, len(want.Signers), want.Detached)
		}
		for i := range got.Signers {
			g, w := got.Signers[i].Err, want.Signers[i].Err
			var se *SignerError
			if g != nil && w == nil && errors.As(g, &se) && se.Reason == UnsupportedAlgorithm {
				// A digest algorithm digestAlgorithms does not announce:
				// Verify computes it, a one-pass reader cannot.
				continue
			}
			if (g == nil) != (w == nil) {
				t.Fatalf("signer %d: VerifyStream %v, Verify %v", i, g, w)
			}
		}
		if !want.Detached && !bytes.Equal(out.Bytes(), want.Content) {
			t.Fatalf("VerifyStream streamed %x, Verify found %x", out.Bytes(), want.Content)
		}
	})
}
