package cms

import (
	"bufio"
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxStreamElement bounds each element VerifyStream holds in memory (the
// digestAlgorithms, certificates, CRLs and SignerInfos sets): everything
// but the content, which streams.
const maxStreamElement = 16 << 20

// VerifyStream is VerifyContext for a SignedData (PEM, DER or BER) read
// from signedData in one pass and in constant memory whatever the size of
// the content it embeds: the embedded content is hashed as it is read and
// written to out (nil: discarded), then the signers are verified. Definite
// and indefinite lengths are read, and eContent as a primitive or a
// constructed OCTET STRING (as `openssl cms -stream` and SignStream
// write it).
//
// What reaches out is unverified until VerifyStream returns a nil error:
// a caller writing a file writes it aside and keeps it only then.
//
// content is as for Verify: the document of a detached SignedData (out
// then receives nothing), or for an attached one nil or a reader that must
// yield the embedded content exactly (else every signer fails with
// DigestMismatch). VerifyResult.Content stays nil. A signer whose
// digestAlgorithm is not announced in the SignedData's digestAlgorithms
// fails with UnsupportedAlgorithm: the content is digested before the
// SignerInfos are read.
//
// Errors are as for Verify: ErrMalformed for unreadable input (including
// input cut short), an I/O error for a failed read or write, otherwise the
// joined *SignerError of the failed signers.
func VerifyStream(ctx context.Context, signedData io.Reader, content io.Reader, out io.Writer, opts *VerifyOptions) (*VerifyResult, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	in, err := streamInput(signedData)
	if err != nil {
		return nil, err
	}
	p := &streamParser{r: in, limit: math.MaxInt64}
	skel, err := p.signedData(func(oids []asn1.ObjectIdentifier, octets io.Reader) (map[string][]byte, *SignerError, error) {
		return digestEmbedded(oids, octets, content, out)
	})
	if err != nil {
		return nil, err
	}
	sd, err := skel.parse()
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{ContentType: sd.ContentType, Detached: sd.Detached}
	if len(sd.Signers) == 0 {
		return res, errors.New("cms: SignedData has no signers")
	}
	digests, contentErr := skel.digests, skel.contentErr
	if sd.Detached {
		if content == nil {
			contentErr = fail(ContentMissing, "", nil)
		} else {
			oids := make([]asn1.ObjectIdentifier, len(sd.Signers))
			for i, si := range sd.Signers {
				oids[i] = si.DigestAlgorithm.Algorithm
			}
			if digests, err = digestContent(content, oids, nil); err != nil {
				return nil, err
			}
		}
	}
	return verifySigners(ctx, sd, res, digests, contentErr, opts)
}

// digestEmbedded digests the embedded content octets with oids, copying
// them to out and, when content is given, comparing them with it.
func digestEmbedded(oids []asn1.ObjectIdentifier, octets io.Reader, content io.Reader, out io.Writer) (map[string][]byte, *SignerError, error) {
	sinks := []io.Writer{}
	if out != nil {
		sinks = append(sinks, out)
	}
	var cmp *compareWriter
	if content != nil {
		cmp = &compareWriter{r: content, same: true}
		sinks = append(sinks, cmp)
	}
	digests, err := digestContent(octets, oids, io.MultiWriter(sinks...))
	if err != nil {
		return nil, nil, err
	}
	if cmp != nil {
		same, err := cmp.end()
		if err != nil {
			return nil, nil, err
		}
		if !same {
			return nil, fail(DigestMismatch, "the given content differs from the embedded content", nil), nil
		}
	}
	return digests, nil, nil
}

// compareWriter compares what is written to it with what r yields.
type compareWriter struct {
	r    io.Reader
	same bool
	buf  []byte
}

func (c *compareWriter) Write(p []byte) (int, error) {
	if !c.same {
		return len(p), nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	n, err := io.ReadFull(c.r, c.buf[:len(p)])
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		c.same = false
	case err != nil:
		return 0, fmt.Errorf("cms: reading content: %w", err)
	case !bytes.Equal(c.buf[:n], p):
		c.same = false
	}
	return len(p), nil
}

// end reports whether r yielded exactly what was written, no more.
func (c *compareWriter) end() (bool, error) {
	if !c.same {
		return false, nil
	}
	var one [1]byte
	n, err := io.ReadFull(c.r, one[:])
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("cms: reading content: %w", err)
	}
	return n == 0, nil
}

// streamInput returns a buffered reader of the DER or BER bytes of
// signedData, decoding PEM armour on the way when it starts with some.
func streamInput(signedData io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(signedData, streamChunk)
	// Leading white space before a PEM block, as unPEM allows.
	for {
		b, err := br.Peek(1)
		if err != nil || (b[0] != ' ' && b[0] != '\t' && b[0] != '\r' && b[0] != '\n') {
			break
		}
		br.Discard(1)
	}
	begin := []byte("-----BEGIN ")
	if head, _ := br.Peek(len(begin)); !bytes.Equal(head, begin) {
		return br, nil
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, malformed("bad PEM")
	}
	typ, ok := bytes.CutSuffix(bytes.TrimRight(line, " \t\r\n"), []byte("-----"))
	if !ok || !pemTypes[string(typ[len(begin):])] {
		return nil, malformed("unexpected PEM block %q", bytes.TrimSpace(line))
	}
	body := &pemBody{r: br, atLineStart: true}
	return bufio.NewReaderSize(base64.NewDecoder(base64.StdEncoding, body), streamChunk), nil
}

// pemBody yields the base64 text of a PEM block up to its END line,
// without the spaces and tabs encoding/pem also drops; the base64 decoder
// skips the line breaks.
type pemBody struct {
	r           *bufio.Reader
	atLineStart bool
	done        bool
}

var pemEnd = []byte("-----END ")

func (p *pemBody) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) && !p.done {
		if p.atLineStart {
			if head, _ := p.r.Peek(len(pemEnd)); bytes.Equal(head, pemEnd) {
				p.done = true
				break
			}
		}
		if _, err := p.r.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				return n, malformed("PEM block without END line")
			}
			return n, fmt.Errorf("cms: reading SignedData: %w", err)
		}
		chunk, _ := p.r.Peek(min(p.r.Buffered(), len(b)-n))
		i := bytes.IndexByte(chunk, '\n')
		if i >= 0 {
			chunk = chunk[:i+1]
		}
		for _, c := range chunk {
			if c != ' ' && c != '\t' {
				b[n] = c
				n++
			}
		}
		p.r.Discard(len(chunk))
		p.atLineStart = i >= 0
	}
	if n == 0 && p.done {
		return 0, io.EOF
	}
	return n, nil
}

// streamParser reads BER from r, tracking the offset so that every
// element stays inside the definite-length elements around it.
type streamParser struct {
	r     *bufio.Reader
	off   int64
	limit int64 // end of the innermost definite-length element open
}

// frame is an open constructed element: its end offset (-1 for an
// indefinite length) and the limit to restore when it closes.
type frame struct {
	end, outerLimit int64
}

// readErr turns a read failure into a truncation (ErrMalformed) or an
// I/O error.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed("truncated")
	}
	if errors.Is(err, ErrMalformed) {
		return err
	}
	return fmt.Errorf("cms: reading SignedData: %w", err)
}

func (p *streamParser) readFull(b []byte) error {
	if int64(len(b)) > p.limit-p.off {
		return malformed("element overruns the element around it")
	}
	n, err := io.ReadFull(p.r, b)
	p.off += int64(n)
	if err != nil {
		return readErr(err)
	}
	return nil
}

func (p *streamParser) readByte() (byte, error) {
	var b [1]byte
	err := p.readFull(b[:])
	return b[0], err
}

// header reads identifier and length octets: the raw header, the first
// identifier octet and the length (-1 for indefinite).
func (p *streamParser) header() (raw []byte, tag byte, length int64, err error) {
	if tag, err = p.readByte(); err != nil {
		return nil, 0, 0, err
	}
	raw = []byte{tag}
	if tag&0x1f == 0x1f {
		for i := 0; ; i++ {
			b, err := p.readByte()
			if err != nil {
				return nil, 0, 0, err
			}
			raw = append(raw, b)
			if b&0x80 == 0 {
				break
			}
			if i >= 4 {
				return nil, 0, 0, malformed("tag number too large")
			}
		}
	}
	l, err := p.readByte()
	if err != nil {
		return nil, 0, 0, err
	}
	raw = append(raw, l)
	switch {
	case l < 0x80:
		length = int64(l)
	case l == 0x80:
		if tag&0x20 == 0 {
			return nil, 0, 0, malformed("indefinite length on a primitive element")
		}
		length = -1
	case l == 0xff || l&0x7f > 8:
		return nil, 0, 0, malformed("bad length")
	default:
		for range int(l & 0x7f) {
			b, err := p.readByte()
			if err != nil {
				return nil, 0, 0, err
			}
			raw = append(raw, b)
			if length > math.MaxInt64>>8 {
				return nil, 0, 0, malformed("length too large")
			}
			length = length<<8 | int64(b)
		}
	}
	if length > p.limit-p.off {
		return nil, 0, 0, malformed("element overruns the element around it")
	}
	return raw, tag, length, nil
}

// enter opens a constructed element whose header was just read.
func (p *streamParser) enter(length int64) frame {
	f := frame{end: -1, outerLimit: p.limit}
	if length >= 0 {
		f.end = p.off + length
		p.limit = f.end
	}
	return f
}

// open reads the header of a constructed element with the given
// (single-octet) tag and enters it.
func (p *streamParser) open(tag byte, what string) (frame, error) {
	_, got, length, err := p.header()
	if err != nil {
		return frame{}, err
	}
	if got != tag {
		return frame{}, malformed("%s: unexpected tag %#x", what, got)
	}
	return p.enter(length), nil
}

// more reports whether f has another element before its end.
func (p *streamParser) more(f frame) (bool, error) {
	if f.end >= 0 {
		return p.off < f.end, nil
	}
	eoc, err := p.r.Peek(2)
	if err != nil {
		return false, readErr(err)
	}
	return eoc[0] != 0 || eoc[1] != 0, nil
}

// close leaves f: its end-of-contents octets, or its exact end.
func (p *streamParser) close(f frame) error {
	if f.end < 0 {
		var eoc [2]byte
		if err := p.readFull(eoc[:]); err != nil {
			return err
		}
		if eoc != [2]byte{} {
			return malformed("missing end-of-contents")
		}
	} else if p.off != f.end {
		return malformed("element shorter than its length")
	}
	p.limit = f.outerLimit
	return nil
}

// element reads the next element whole, as encoded (BER), holding at most
// maxStreamElement bytes.
func (p *streamParser) element() ([]byte, error) {
	budget := int64(maxStreamElement)
	return p.elementDepth(&budget, 0)
}

func (p *streamParser) elementDepth(budget *int64, depth int) ([]byte, error) {
	if depth > maxBERDepth {
		return nil, malformed("nested too deeply")
	}
	raw, _, length, err := p.header()
	if err != nil {
		return nil, err
	}
	if *budget -= int64(len(raw)); *budget < 0 || length > *budget {
		return nil, malformed("element larger than %d bytes", maxStreamElement)
	}
	if length >= 0 {
		*budget -= length
		out := append(raw, make([]byte, length)...)
		return out, p.readFull(out[len(raw):])
	}
	f := p.enter(-1)
	out := raw
	for {
		more, err := p.more(f)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		child, err := p.elementDepth(budget, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, child...)
	}
	if err := p.close(f); err != nil {
		return nil, err
	}
	return append(out, 0, 0), nil
}

// skeleton is a streamed SignedData without its content: the elements
// around it as read (BER), and the digests of the content.
type skeleton struct {
	version, digestAlgorithms, contentType []byte
	attached                               bool
	rest                                   [][]byte // certificates, crls, signerInfos
	digests                                map[string][]byte
	contentErr                             *SignerError
}

// contentSink digests the embedded content octets with the announced
// digest algorithms.
type contentSink func(oids []asn1.ObjectIdentifier, octets io.Reader) (map[string][]byte, *SignerError, error)

// signedData reads a ContentInfo holding SignedData, passing the embedded
// content octets, as they are read, to sink.
func (p *streamParser) signedData(sink contentSink) (*skeleton, error) {
	ci, err := p.open(0x30, "ContentInfo")
	if err != nil {
		return nil, err
	}
	ctype, err := p.element()
	if err != nil {
		return nil, err
	}
	der, err := berToDER(ctype)
	if err != nil {
		return nil, malformed("bad contentType")
	}
	if oid, err := parseOID(der); err != nil || !oid.Equal(oidSignedData) {
		return nil, malformed("content type is not signedData")
	}
	explicit, err := p.open(0xa0, "ContentInfo content")
	if err != nil {
		return nil, err
	}
	sdf, err := p.open(0x30, "SignedData")
	if err != nil {
		return nil, err
	}
	sk := &skeleton{}
	if sk.version, err = p.element(); err != nil {
		return nil, err
	}
	if sk.digestAlgorithms, err = p.element(); err != nil {
		return nil, err
	}
	oids, err := parseDigestAlgorithms(sk.digestAlgorithms)
	if err != nil {
		return nil, err
	}
	eci, err := p.open(0x30, "encapContentInfo")
	if err != nil {
		return nil, err
	}
	if sk.contentType, err = p.element(); err != nil {
		return nil, err
	}
	more, err := p.more(eci)
	if err != nil {
		return nil, err
	}
	if more {
		sk.attached = true
		if err := p.content(oids, sink, sk); err != nil {
			return nil, err
		}
	}
	if err := p.close(eci); err != nil {
		return nil, err
	}
	for {
		more, err := p.more(sdf)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		elem, err := p.element()
		if err != nil {
			return nil, err
		}
		sk.rest = append(sk.rest, elem)
	}
	for _, f := range []frame{sdf, explicit, ci} {
		if err := p.close(f); err != nil {
			return nil, err
		}
	}
	if _, err := p.r.Peek(1); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, readErr(err)
		}
		return nil, malformed("data after the ContentInfo")
	}
	return sk, nil
}

// content streams eContent ([0] EXPLICIT OCTET STRING, primitive or
// constructed) through sink.
func (p *streamParser) content(oids []asn1.ObjectIdentifier, sink contentSink, sk *skeleton) error {
	explicit, err := p.open(0xa0, "eContent")
	if err != nil {
		return err
	}
	_, tag, length, err := p.header()
	if err != nil {
		return err
	}
	octets := &octetReader{p: p}
	switch tag {
	case 0x04:
		octets.left = length
	case 0x24:
		octets.frames = []frame{p.enter(length)}
	default:
		return malformed("eContent is not an OCTET STRING")
	}
	if sk.digests, sk.contentErr, err = sink(oids, octets); err != nil {
		return err
	}
	return p.close(explicit)
}

// octetReader yields the octets of an OCTET STRING, primitive or
// constructed (segments, nested to maxBERDepth), as it reads them.
type octetReader struct {
	p      *streamParser
	frames []frame // open constructed OCTET STRINGs, innermost last
	left   int64   // octets left in the current primitive segment
}

func (o *octetReader) Read(b []byte) (int, error) {
	for o.left == 0 {
		if len(o.frames) == 0 {
			return 0, io.EOF
		}
		top := o.frames[len(o.frames)-1]
		more, err := o.p.more(top)
		if err != nil {
			return 0, err
		}
		if !more {
			if err := o.p.close(top); err != nil {
				return 0, err
			}
			o.frames = o.frames[:len(o.frames)-1]
			continue
		}
		_, tag, length, err := o.p.header()
		if err != nil {
			return 0, err
		}
		switch {
		case tag == 0x04:
			o.left = length
		case tag == 0x24 && len(o.frames) < maxBERDepth:
			o.frames = append(o.frames, o.p.enter(length))
		default:
			return 0, malformed("bad segment of a constructed OCTET STRING")
		}
	}
	if int64(len(b)) > o.left {
		b = b[:o.left]
	}
	if err := o.p.readFull(b); err != nil {
		return 0, err
	}
	o.left -= int64(len(b))
	return len(b), nil
}

// parseDigestAlgorithms reads the digestAlgorithms SET (BER) for the
// digests to compute while the content streams.
func parseDigestAlgorithms(elem []byte) ([]asn1.ObjectIdentifier, error) {
	der, err := berToDER(elem)
	if err != nil {
		return nil, malformed("bad digestAlgorithms")
	}
	in := cryptobyte.String(der)
	var set cryptobyte.String
	if !in.ReadASN1(&set, cbasn1.SET) || !in.Empty() {
		return nil, malformed("bad digestAlgorithms")
	}
	var oids []asn1.ObjectIdentifier
	for !set.Empty() {
		ai, err := readAlgorithmIdentifier(&set)
		if err != nil {
			return nil, fmt.Errorf("digestAlgorithms: %w", err)
		}
		oids = append(oids, ai.Algorithm)
	}
	return oids, nil
}

// parse reassembles the skeleton as a SignedData with an empty content
// and decodes it as Parse would: as strict DER first, else with every
// field normalized from BER.
func (sk *skeleton) parse() (*SignedData, error) {
	sd, err := parseDER(sk.assemble(func(b []byte) ([]byte, error) { return b, nil }))
	if err != nil {
		der := sk.assemble(berToDER)
		if der == nil {
			return nil, err
		}
		if sd, err = parseDER(der); err != nil {
			return nil, err
		}
	}
	// The content went to the caller's writer.
	sd.Content = nil
	return sd, nil
}

// assemble encodes the skeleton's fields, each passed through conv, as a
// ContentInfo; nil when conv fails.
func (sk *skeleton) assemble(conv func([]byte) ([]byte, error)) []byte {
	var body []byte
	for _, elem := range [][]byte{sk.version, sk.digestAlgorithms} {
		der, err := conv(elem)
		if err != nil {
			return nil
		}
		body = append(body, der...)
	}
	ctype, err := conv(sk.contentType)
	if err != nil {
		return nil
	}
	if sk.attached {
		ctype = append(ctype, 0xa0, 0x02, 0x04, 0x00)
	}
	body = appendElement(body, []byte{0x30}, ctype)
	for _, elem := range sk.rest {
		der, err := conv(elem)
		if err != nil {
			return nil
		}
		body = append(body, der...)
	}
	ci := append(append([]byte{}, derOIDSignedData...), appendElement(nil, []byte{0xa0}, appendElement(nil, []byte{0x30}, body))...)
	return appendElement(nil, []byte{0x30}, ci)
}
