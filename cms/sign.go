package cms

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gostkey/gostkey/pki"
)

// SignOptions control Sign, SignMulti and AddSigner. The zero value (or nil)
// makes an attached DER CAdES-BES signature, signed now.
type SignOptions struct {
	// Detached leaves the content out of the SignedData. Ignored by
	// AddSigner, which keeps the existing SignedData's choice.
	Detached bool
	// PEM armours the output ("-----BEGIN CMS-----", as openssl writes).
	PEM bool
	// SigningTime is the signingTime attribute; zero means now.
	SigningTime time.Time
	// ExtraCerts are embedded beside the signer certificates (for example
	// intermediate CA certificates), so verifiers can build the chain.
	ExtraCerts []*pki.Certificate
	// Rand is the randomness for signing; nil means crypto/rand.
	Rand io.Reader
}

// Signer is one signer of SignMulti: a key, its certificate and, when
// not the key's default, the signature algorithm (ECDSA with SHA-384, say).
// For GOST keys the key size fixes the algorithm.
type Signer struct {
	Key         crypto.Signer
	Certificate *pki.Certificate
	Algorithm   pki.SignatureAlgorithm // zero: pki.DefaultSignatureAlgorithm of the key
}

// Sign reads content once and returns a CAdES-BES SignedData signed by key
// with cert: signed attributes contentType (id-data), signingTime,
// messageDigest and signingCertificateV2, the signer certificate embedded.
// A detached signature is made in constant memory; an attached one holds
// the content in memory, since it goes inside the output.
func Sign(content io.Reader, key crypto.Signer, cert *pki.Certificate, opts *SignOptions) ([]byte, error) {
	return SignMulti(content, []Signer{{Key: key, Certificate: cert}}, opts)
}

// SignMulti is Sign with several co-signers in one SignedData: the content
// is read once and every digest the signers need is computed in that pass.
func SignMulti(content io.Reader, signers []Signer, opts *SignOptions) ([]byte, error) {
	if opts == nil {
		opts = &SignOptions{}
	}
	if len(signers) == 0 {
		return nil, errors.New("cms: no signers")
	}
	prepared, err := prepareSigners(signers)
	if err != nil {
		return nil, err
	}
	// An attached signature holds the content in memory: it goes inside
	// the output.
	var attached bytes.Buffer
	var keep io.Writer
	if !opts.Detached {
		keep = &attached
	}
	digests, err := digestContent(content, digestOIDs(prepared, nil), keep)
	if err != nil {
		return nil, err
	}
	f := &signedDataFields{contentType: oidData}
	if !opts.Detached {
		// Non-nil even when empty: nil content means detached.
		f.content = append([]byte{}, attached.Bytes()...)
	}
	if err := f.addSigners(prepared, digests, opts); err != nil {
		return nil, err
	}
	der, err := marshalSignedData(f)
	if err != nil {
		return nil, fmt.Errorf("cms: encoding SignedData: %w", err)
	}
	return encodeOutput(der, opts.PEM), nil
}

// AddSigner adds a signature by key and cert to an existing SignedData
// (PEM or DER), keeping every existing SignerInfo byte for byte. content is
// the signed document: required for a detached SignedData, optional for an
// attached one (then it must equal the embedded content). Existing signers'
// messageDigest values are checked against the content in the same pass,
// so a co-signature cannot land on a different document. The output is PEM
// when opts.PEM is set.
func AddSigner(signedData []byte, content io.Reader, key crypto.Signer, cert *pki.Certificate, opts *SignOptions) ([]byte, error) {
	if opts == nil {
		opts = &SignOptions{}
	}
	sd, err := Parse(signedData)
	if err != nil {
		return nil, err
	}
	if !sd.ContentType.Equal(oidData) {
		return nil, fmt.Errorf("cms: cannot co-sign content of type %v", sd.ContentType)
	}
	prepared, err := prepareSigners([]Signer{{Key: key, Certificate: cert}})
	if err != nil {
		return nil, err
	}
	oids := digestOIDs(prepared, sd.Signers)
	var digests map[string][]byte
	switch {
	case sd.Detached && content == nil:
		return nil, errors.New("cms: the SignedData is detached: the content is needed to add a signer")
	case sd.Detached:
		digests, err = digestContent(content, oids, nil)
	default:
		if content != nil {
			same, err := sameContent(content, sd.Content)
			if err != nil {
				return nil, err
			}
			if !same {
				return nil, errors.New("cms: the given content differs from the embedded content")
			}
		}
		digests, err = digestContent(bytes.NewReader(sd.Content), oids, nil)
	}
	if err != nil {
		return nil, err
	}
	for i, si := range sd.Signers {
		if err := checkMessageDigest(si, digests); err != nil {
			return nil, fmt.Errorf("cms: existing signer %d does not sign this content: %w", i, err)
		}
	}
	f := &signedDataFields{contentType: sd.ContentType, certificates: sd.rawCertChoices, crls: sd.RawCRLs}
	if !sd.Detached {
		f.content = sd.Content
	}
	for _, si := range sd.Signers {
		f.signerInfos = append(f.signerInfos, si.Raw)
	}
	for _, ai := range sd.DigestAlgorithms {
		der, err := marshalAlgorithmIdentifier(ai)
		if err != nil {
			return nil, fmt.Errorf("cms: encoding digestAlgorithms: %w", err)
		}
		f.digestAlgorithms = append(f.digestAlgorithms, der)
	}
	if err := f.addSigners(prepared, digests, opts); err != nil {
		return nil, err
	}
	f.version = max(f.version, sd.Version)
	der, err := marshalSignedData(f)
	if err != nil {
		return nil, fmt.Errorf("cms: encoding SignedData: %w", err)
	}
	return encodeOutput(der, opts.PEM), nil
}

// sameContent reports whether r yields exactly want, reading r in pieces
// and stopping at the first difference.
func sameContent(r io.Reader, want []byte) (bool, error) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > len(want) || !bytes.Equal(buf[:n], want[:n]) {
			return false, nil
		}
		want = want[n:]
		if err == io.EOF {
			return len(want) == 0, nil
		}
		if err != nil {
			return false, fmt.Errorf("cms: reading content: %w", err)
		}
	}
}

// checkMessageDigest compares a SignerInfo's messageDigest, when it has one
// and its digest was computed, with the content digest.
func checkMessageDigest(si *SignerInfo, digests map[string][]byte) error {
	values, n := attribute(si.SignedAttrs, oidMessageDigest)
	want, ok := digests[si.DigestAlgorithm.Algorithm.String()]
	if n != 1 || len(values) != 1 || !ok {
		return nil
	}
	got, err := parseOctetString(values[0])
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("messageDigest differs from the content digest")
	}
	return nil
}

func parseOctetString(elem []byte) ([]byte, error) {
	s := cryptobyte.String(elem)
	var out cryptobyte.String
	if !s.ReadASN1(&out, cbasn1.OCTET_STRING) || !s.Empty() {
		return nil, malformed("not an OCTET STRING")
	}
	return out, nil
}

type preparedSigner struct {
	Signer
	digestAI, signatureAI []byte
}

func prepareSigners(signers []Signer) ([]preparedSigner, error) {
	out := make([]preparedSigner, len(signers))
	for i, s := range signers {
		if s.Key == nil || s.Certificate == nil {
			return nil, fmt.Errorf("cms: signer %d: key and certificate are required", i+1)
		}
		pub, ok := s.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(s.Certificate.PublicKey) {
			return nil, fmt.Errorf("cms: signer %d: the key does not match the certificate", i+1)
		}
		if s.Algorithm == pki.UnknownSignatureAlgorithm {
			alg, err := pki.DefaultSignatureAlgorithm(s.Certificate.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("cms: signer %d: %w", i+1, err)
			}
			s.Algorithm = alg
		}
		digestAI, signatureAI, err := identifiers(s.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("cms: signer %d: %w", i+1, err)
		}
		// The same check a verifier makes: the algorithm fits the key.
		alg, err := signerAlgorithm(s.Certificate.PublicKey, digestAI, signatureAI)
		if err != nil {
			return nil, fmt.Errorf("cms: signer %d: %v does not fit the certificate key: %w", i+1, s.Algorithm, err)
		}
		if alg != s.Algorithm {
			return nil, fmt.Errorf("cms: signer %d: %v does not fit the certificate key, which signs with %v", i+1, s.Algorithm, alg)
		}
		p := preparedSigner{Signer: s}
		if p.digestAI, err = marshalAlgorithmIdentifier(digestAI); err != nil {
			return nil, err
		}
		if p.signatureAI, err = marshalAlgorithmIdentifier(signatureAI); err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// digestOIDs lists the distinct digest algorithms of new and existing
// signers, by OID string.
func digestOIDs(signers []preparedSigner, existing []*SignerInfo) []asn1.ObjectIdentifier {
	var oids []asn1.ObjectIdentifier
	for _, s := range signers {
		oids = append(oids, s.Algorithm.DigestOID())
	}
	for _, si := range existing {
		oids = append(oids, si.DigestAlgorithm.Algorithm)
	}
	return oids
}

// digestContent reads content once, feeding every requested digest (and
// keep, when not nil) through one io.MultiWriter. The result is keyed by
// OID string; unknown digest OIDs are left out.
func digestContent(content io.Reader, oids []asn1.ObjectIdentifier, keep io.Writer) (map[string][]byte, error) {
	if content == nil {
		content = bytes.NewReader(nil)
	}
	hashes := map[string]hash.Hash{}
	var writers []io.Writer
	for _, oid := range oids {
		if _, dup := hashes[oid.String()]; dup {
			continue
		}
		h, ok := newDigest(oid)
		if !ok {
			continue
		}
		hashes[oid.String()] = h
		writers = append(writers, h)
	}
	if keep != nil {
		writers = append(writers, keep)
	}
	if _, err := io.Copy(io.MultiWriter(writers...), content); err != nil {
		return nil, fmt.Errorf("cms: reading content: %w", err)
	}
	sums := make(map[string][]byte, len(hashes))
	for oid, h := range hashes {
		sums[oid] = h.Sum(nil)
	}
	return sums, nil
}

// addSigners signs for each prepared signer and adds its SignerInfo,
// digestAlgorithm and certificate to f.
func (f *signedDataFields) addSigners(signers []preparedSigner, digests map[string][]byte, opts *SignOptions) error {
	f.addSignerFields(signers, opts)
	signerInfos, err := signAll(signers, digests, opts)
	if err != nil {
		return err
	}
	f.signerInfos = append(f.signerInfos, signerInfos...)
	return nil
}

// addSignerFields adds what the signers contribute to f besides their
// SignerInfos: digestAlgorithms, certificates (with opts.ExtraCerts) and
// the version. A streaming signer writes these before the content.
func (f *signedDataFields) addSignerFields(signers []preparedSigner, opts *SignOptions) {
	versions := []int{}
	for _, s := range signers {
		f.digestAlgorithms = append(f.digestAlgorithms, s.digestAI)
		f.certificates = append(f.certificates, s.Certificate.Raw)
		versions = append(versions, 1)
	}
	for _, c := range opts.ExtraCerts {
		f.certificates = append(f.certificates, c.Raw)
	}
	f.version = signedDataVersion(f.contentType, versions...)
}

// signAll signs for each prepared signer and returns the SignerInfos.
func signAll(signers []preparedSigner, digests map[string][]byte, opts *SignOptions) ([][]byte, error) {
	signingTime := opts.SigningTime
	if signingTime.IsZero() {
		signingTime = time.Now()
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var out [][]byte
	for i, s := range signers {
		si, err := signOne(rnd, s, digests[s.Algorithm.DigestOID().String()], signingTime)
		if err != nil {
			return nil, fmt.Errorf("cms: signer %d: %w", i+1, err)
		}
		out = append(out, si)
	}
	return out, nil
}

// signOne builds the CAdES-BES signed attributes, signs them and returns
// the SignerInfo DER.
func signOne(rnd io.Reader, s preparedSigner, contentDigest []byte, signingTime time.Time) ([]byte, error) {
	attrs, err := signedAttributes(s, contentDigest, signingTime)
	if err != nil {
		return nil, err
	}
	return signAttributes(rnd, s, attrs)
}

// signAttributes signs the given signed attributes (DER Attribute
// elements) and returns the SignerInfo DER.
func signAttributes(rnd io.Reader, s preparedSigner, attrs [][]byte) ([]byte, error) {
	// The signature covers the attributes as a DER SET OF; the SignerInfo
	// carries the same body under [0] IMPLICIT (RFC 5652 §5.4).
	body := bytes.Join(derSet(attrs), nil)
	h := s.Algorithm.NewHash()
	h.Write(appendElement(nil, []byte{0x31}, body))
	sig, err := pki.SignDigest(rnd, s.Key, s.Algorithm, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return marshalSignerInfo(s, body, sig)
}

// marshalSignerInfo encodes a SignerInfo with the given signed-attributes
// body and signature value.
func marshalSignerInfo(s preparedSigner, signedAttrsBody, sig []byte) ([]byte, error) {
	return marshalElement(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			addIssuerAndSerial(b, s.Certificate.RawIssuer, s.Certificate.SerialNumber)
			b.AddBytes(s.digestAI)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(signedAttrsBody)
			})
			b.AddBytes(s.signatureAI)
			b.AddASN1OctetString(sig)
		})
	})
}

// signedAttributes returns the DER of each CAdES-BES signed attribute.
func signedAttributes(s preparedSigner, contentDigest []byte, signingTime time.Time) ([][]byte, error) {
	ct, err := marshalElement(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })
	if err != nil {
		return nil, err
	}
	tm, err := marshalTime(signingTime)
	if err != nil {
		return nil, err
	}
	md, err := marshalElement(func(b *cryptobyte.Builder) { b.AddASN1OctetString(contentDigest) })
	if err != nil {
		return nil, err
	}
	ess, err := signingCertificateV2(s)
	if err != nil {
		return nil, err
	}
	var attrs [][]byte
	for _, a := range []struct {
		oid   asn1.ObjectIdentifier
		value []byte
	}{
		{oidContentType, ct},
		{oidSigningTime, tm},
		{oidMessageDigest, md},
		{oidSigningCertificateV2, ess},
	} {
		der, err := marshalAttribute(a.oid, a.value)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, der)
	}
	return attrs, nil
}

// signingCertificateV2 encodes SigningCertificateV2 { SEQUENCE OF
// ESSCertIDv2 { hashAlgorithm, certHash, issuerSerial } } for the signer
// certificate. The hash is the signer's digest algorithm, as OpenSSL does
// (Streebog-256 or -512 for GOST); hashAlgorithm is written except for its
// DEFAULT, SHA-256, which DER omits (RFC 5035 §4).
func signingCertificateV2(s preparedSigner) ([]byte, error) {
	h := s.Algorithm.NewHash()
	h.Write(s.Certificate.Raw)
	certHash := h.Sum(nil)
	defaultHash := s.Algorithm.DigestOID().Equal(oidSHA256)
	return marshalElement(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					if !defaultHash {
						b.AddBytes(s.digestAI)
					}
					b.AddASN1OctetString(certHash)
					addIssuerSerial(b, s.Certificate)
				})
			})
		})
	})
}

// addIssuerSerial encodes IssuerSerial { GeneralNames { directoryName
// [4] EXPLICIT issuer }, serialNumber }.
func addIssuerSerial(b *cryptobyte.Builder, cert *pki.Certificate) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(cert.RawIssuer)
			})
		})
		b.AddASN1BigInt(cert.SerialNumber)
	})
}
