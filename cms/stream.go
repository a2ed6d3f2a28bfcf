package cms

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/gostkey/gostkey/gost"
)

// streamChunk is the size of the eContent segments SignStream writes with
// indefinite lengths, and of its output buffer.
const streamChunk = 64 << 10

// SignStream writes an attached CAdES-BES SignedData signed by signers to
// w while reading content once, in constant memory whatever its size: the
// content goes out as it is read and hashed, then each signer signs its
// digest, then the SignerInfos follow.
//
// size is the content's length in bytes when known (a file's size): the
// output is then DER with definite lengths, byte for byte what SignMulti
// writes for the same content, signing time and signatures. A negative
// size (a pipe) writes indefinite-length BER, the content as a constructed
// OCTET STRING of 64 KiB segments, as `openssl cms -sign -stream` does;
// Parse, Verify, VerifyStream and OpenSSL read both. An ECDSA signer's
// signature length is not known before it signs, so with one among the
// signers the output is indefinite-length BER whatever the size.
//
// opts.PEM armours the output as it is written; opts.Detached writes what
// SignMulti returns (a detached signature holds no content). On error,
// what was written to w is not a signature: a caller writing a file
// removes it. A content longer or shorter than a non-negative size is an
// error.
func SignStream(w io.Writer, content io.Reader, size int64, signers []Signer, opts *SignOptions) error {
	o := SignOptions{}
	if opts != nil {
		o = *opts
	}
	if o.SigningTime.IsZero() {
		// Fixed once: the SignerInfo lengths written before the content
		// depend on it.
		o.SigningTime = time.Now()
	}
	if o.Detached {
		sig, err := SignMulti(content, signers, &o)
		if err != nil {
			return err
		}
		if _, err := w.Write(sig); err != nil {
			return fmt.Errorf("cms: writing the signature: %w", err)
		}
		return nil
	}
	if len(signers) == 0 {
		return errors.New("cms: no signers")
	}
	prepared, err := prepareSigners(signers)
	if err != nil {
		return err
	}
	f := &signedDataFields{contentType: oidData}
	f.addSignerFields(prepared, &o)
	head, err := f.head()
	if err != nil {
		return fmt.Errorf("cms: encoding SignedData: %w", err)
	}
	// With definite lengths every length before the content must be
	// known: the SignerInfos after it are measured with placeholder
	// digests and signatures of the sizes the real ones will have.
	var predictedTail int
	definite := size >= 0
	if definite {
		placeholders, ok, err := placeholderSignerInfos(prepared, o.SigningTime)
		if err != nil {
			return err
		}
		if definite = ok; ok {
			f.signerInfos = placeholders
			tail, err := f.tail()
			if err != nil {
				return fmt.Errorf("cms: encoding SignedData: %w", err)
			}
			predictedTail = len(tail)
			f.signerInfos = nil
		}
	}

	out := w
	var armour *pemWriter
	if o.PEM {
		armour = newPEMWriter(w, "CMS")
		out = armour
	}
	// bufio.Writer keeps the first write error: every later Write is a
	// no-op returning it, and Flush, checked below, reports it.
	bw := bufio.NewWriterSize(out, streamChunk)
	var body io.Writer
	var segments *segmentWriter
	var counted *sizedWriter
	if definite {
		bw.Write(definitePrefix(head, size, predictedTail))
		body = bw
	} else {
		bw.Write(indefinitePrefix(head))
		segments = &segmentWriter{w: bw, buf: make([]byte, 0, streamChunk)}
		body = segments
	}
	if size >= 0 {
		counted = &sizedWriter{w: body, size: size}
		body = counted
	}
	digests, err := digestContent(content, digestOIDs(prepared, nil), body)
	if err != nil {
		return err
	}
	if counted != nil && counted.n != size {
		return fmt.Errorf("cms: the content is %d bytes, not the %d announced", counted.n, size)
	}
	if !definite {
		if err := segments.close(); err != nil {
			return fmt.Errorf("cms: writing the signature: %w", err)
		}
	}
	if f.signerInfos, err = signAll(prepared, digests, &o); err != nil {
		return err
	}
	tail, err := f.tail()
	if err != nil {
		return fmt.Errorf("cms: encoding SignedData: %w", err)
	}
	if definite && len(tail) != predictedTail {
		return fmt.Errorf("cms: a SignerInfo came out %d bytes longer than measured", len(tail)-predictedTail)
	}
	bw.Write(tail)
	if !definite {
		// Ends SignedData, the [0] of ContentInfo and ContentInfo.
		bw.Write([]byte{0, 0, 0, 0, 0, 0})
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cms: writing the signature: %w", err)
	}
	if armour != nil {
		if err := armour.Close(); err != nil {
			return fmt.Errorf("cms: writing the signature: %w", err)
		}
	}
	return nil
}

var (
	derOIDSignedData = mustOIDElement(oidSignedData)
	derOIDData       = mustOIDElement(oidData)
)

// mustOIDElement encodes one of the package's OID constants, which always
// encode.
func mustOIDElement(oid asn1.ObjectIdentifier) []byte {
	der, err := marshalElement(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	if err != nil {
		panic(err)
	}
	return der
}

// definitePrefix is the DER of an attached SignedData up to the content
// octets: ContentInfo, SignedData (head), encapContentInfo and the
// eContent OCTET STRING headers, with lengths for a size-byte content and
// a tail (certificates and SignerInfos) of tailLen bytes.
func definitePrefix(head []byte, size int64, tailLen int) []byte {
	octets := appendHeader(nil, []byte{0x04}, size)
	explicitLen := int64(len(octets)) + size
	explicit := appendHeader(nil, []byte{0xa0}, explicitLen)
	eciLen := int64(len(derOIDData)+len(explicit)) + explicitLen
	eci := appendHeader(nil, []byte{0x30}, eciLen)
	sdLen := int64(len(head)+len(eci)) + eciLen + int64(tailLen)
	sd := appendHeader(nil, []byte{0x30}, sdLen)
	ciExplicitLen := int64(len(sd)) + sdLen
	ciExplicit := appendHeader(nil, []byte{0xa0}, ciExplicitLen)
	ciLen := int64(len(derOIDSignedData)+len(ciExplicit)) + ciExplicitLen

	out := appendHeader(nil, []byte{0x30}, ciLen)
	for _, part := range [][]byte{derOIDSignedData, ciExplicit, sd, head, eci, derOIDData, explicit, octets} {
		out = append(out, part...)
	}
	return out
}

// indefinitePrefix is the BER of an attached SignedData up to the first
// content segment, every enclosing element of indefinite length.
func indefinitePrefix(head []byte) []byte {
	out := append([]byte{0x30, 0x80}, derOIDSignedData...)
	out = append(out, 0xa0, 0x80, 0x30, 0x80)
	out = append(out, head...)
	out = append(out, 0x30, 0x80)
	out = append(out, derOIDData...)
	return append(out, 0xa0, 0x80, 0x24, 0x80)
}

// placeholderSignerInfos builds each signer's SignerInfo with a zero
// digest and a zero signature of the length the real signature will
// have, to measure them before the content is read. ok is false when a
// signature length is not fixed in advance (ECDSA's DER).
func placeholderSignerInfos(signers []preparedSigner, signingTime time.Time) (out [][]byte, ok bool, err error) {
	for _, s := range signers {
		sigLen, fixed := signatureSize(s.Certificate.PublicKey)
		if !fixed {
			return nil, false, nil
		}
		attrs, err := signedAttributes(s, make([]byte, s.Algorithm.HashSize()), signingTime)
		if err != nil {
			return nil, false, err
		}
		si, err := marshalSignerInfo(s, bytes.Join(derSet(attrs), nil), make([]byte, sigLen))
		if err != nil {
			return nil, false, err
		}
		out = append(out, si)
	}
	return out, true, nil
}

// signatureSize is the length of every signature by pub, when it is
// fixed: s‖r for GOST R 34.10-2012, the modulus size for RSA.
func signatureSize(pub crypto.PublicKey) (int, bool) {
	switch k := pub.(type) {
	case *gost.PublicKey:
		return 2 * k.Curve.Size(), true
	case *rsa.PublicKey:
		return k.Size(), true
	}
	return 0, false
}

// sizedWriter passes on at most size bytes and counts them; more is an
// error, so a content that grows while it is read cannot overrun the
// lengths already written.
type sizedWriter struct {
	w    io.Writer
	size int64
	n    int64
}

func (s *sizedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > s.size-s.n {
		return 0, fmt.Errorf("the content is longer than the %d bytes announced", s.size)
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}

// segmentWriter writes what it is given as the primitive OCTET STRING
// segments of a constructed, indefinite-length one, each at most
// cap(buf) bytes.
type segmentWriter struct {
	w   io.Writer
	buf []byte
}

func (s *segmentWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(cap(s.buf)-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		if len(s.buf) == cap(s.buf) {
			if err := s.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (s *segmentWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	if _, err := s.w.Write(appendHeader(nil, []byte{0x04}, int64(len(s.buf)))); err != nil {
		return err
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

// close writes the last segment and the end-of-contents octets of the
// OCTET STRING, the eContent [0] and encapContentInfo.
func (s *segmentWriter) close() error {
	if err := s.flush(); err != nil {
		return err
	}
	_, err := s.w.Write([]byte{0, 0, 0, 0, 0, 0})
	return err
}

// pemWriter armours what is written to it as one PEM block, as
// encoding/pem writes it (64-character lines), without holding it.
type pemWriter struct {
	w       io.Writer
	typ     string
	started bool
	lines   *lineBreaker
	enc     io.WriteCloser
}

func newPEMWriter(w io.Writer, typ string) *pemWriter {
	lb := &lineBreaker{w: w}
	return &pemWriter{w: w, typ: typ, lines: lb, enc: base64.NewEncoder(base64.StdEncoding, lb)}
}

func (p *pemWriter) Write(b []byte) (int, error) {
	if !p.started {
		p.started = true
		if _, err := io.WriteString(p.w, "-----BEGIN "+p.typ+"-----\n"); err != nil {
			return 0, err
		}
	}
	return p.enc.Write(b)
}

// Close ends the base64 text and writes the END line.
func (p *pemWriter) Close() error {
	if _, err := p.Write(nil); err != nil {
		return err
	}
	if err := p.enc.Close(); err != nil {
		return err
	}
	if p.lines.used > 0 {
		if _, err := p.w.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	_, err := io.WriteString(p.w, "-----END "+p.typ+"-----\n")
	return err
}

// lineBreaker inserts a newline after every 64 characters.
type lineBreaker struct {
	w    io.Writer
	used int // characters on the current line
}

const pemLineLength = 64

func (l *lineBreaker) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		k := min(pemLineLength-l.used, len(b))
		if _, err := l.w.Write(b[:k]); err != nil {
			return 0, err
		}
		l.used += k
		b = b[k:]
		if l.used == pemLineLength {
			if _, err := l.w.Write([]byte{'\n'}); err != nil {
				return 0, err
			}
			l.used = 0
		}
	}
	return n, nil
}
