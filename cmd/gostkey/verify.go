package main

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "verify", usage: "--sig SIG [--content FILE] [--ca CA.pem]... [--no-chain] [--crl FILE]... [--ocsp] [--require-revocation] [--at TIME] [--purpose any] [--cades] [--out FILE]",
		summary: "verify a CMS/CAdES signature: exit 0 valid, 1 invalid, 2 unreadable", setup: setupVerify})
}

// errNoRoots is the answer to a verification with nothing to trust: a
// signature anybody can make with a certificate of their own is no
// evidence of who signed.
var errNoRoots = errors.New("no trusted roots: give --ca, set roots in the config, or --no-chain")

type verifyFlags struct {
	sig, content, out  string
	cas, crls          []string
	ocsp, requireRevoc bool
	ocspTimeout        time.Duration
	ocspMaxAge         time.Duration
	cades, noChain     bool
	at, purpose        string
}

func setupVerify(fs *pflag.FlagSet, _ *globals) runFunc {
	var vf verifyFlags
	fs.StringVar(&vf.sig, "sig", "", "the signature `FILE` (CMS/CAdES, PEM or DER; - for standard input)")
	fs.StringVar(&vf.content, "content", "", "the signed document `FILE`, for a detached signature (- for standard input)")
	fs.StringArrayVar(&vf.cas, "ca", nil, "trusted root certificates `FILE` (repeatable; default: roots in the config file)")
	fs.BoolVar(&vf.noChain, "no-chain", false, "check only the signatures, not who made them: the signer is not verified")
	fs.StringArrayVar(&vf.crls, "crl", nil, "check revocation against the CRL in `FILE` (repeatable)")
	fs.BoolVar(&vf.ocsp, "ocsp", false, "check revocation with the OCSP responders named in the certificates (a certificate naming none, such as a CA's: the CRL at its distribution point)")
	fs.DurationVar(&vf.ocspTimeout, "ocsp-timeout", 30*time.Second, "give up on OCSP responders after `DURATION`")
	fs.BoolVar(&vf.requireRevoc, "require-revocation", false, "fail when revocation could not be checked (with --ocsp: a certificate names no OCSP responder)")
	fs.BoolVar(&vf.cades, "cades", false, "require CAdES-BES (a signingCertificate attribute), as openssl cms -verify -cades")
	fs.DurationVar(&vf.ocspMaxAge, "ocsp-max-age", 0, "accept an OCSP answer without nextUpdate (and without our nonce) for `DURATION` after its thisUpdate (default 1h)")
	fs.StringVar(&vf.at, "at", "", "check the chain and revocation at `TIME` (RFC 3339, e.g. 2026-01-31T12:00:00Z), a time you assert, instead of now")
	fs.StringVar(&vf.purpose, "purpose", "document", "what the signer certificate must be fit for: `PURPOSE` document (S/MIME or Russian document signing) or any")
	fs.StringVar(&vf.out, "out", "", "write the content of an attached signature to `FILE` once verified (- for standard output)")
	return func(ctx context.Context, std stdio, _ []string) error {
		return verify(ctx, std, &vf)
	}
}

func verify(ctx context.Context, std stdio, vf *verifyFlags) error {
	if vf.sig == "" {
		return cmdLinef("--sig is required")
	}
	if vf.sig == "-" && vf.content == "-" {
		return cmdLinef("--sig and --content cannot both be standard input")
	}
	revocation := len(vf.crls) > 0 || vf.ocsp
	if vf.noChain && (len(vf.cas) > 0 || revocation || vf.requireRevoc) {
		return cmdLinef("--no-chain checks no chain: it goes with neither --ca nor revocation checks")
	}
	if vf.requireRevoc && !revocation {
		return cmdLinef("--require-revocation needs --crl or --ocsp")
	}
	if vf.noChain && vf.at != "" {
		return cmdLinef("--no-chain checks no chain: --at has nothing to apply to")
	}
	if vf.ocspMaxAge < 0 {
		return cmdLinef("--ocsp-max-age must not be negative")
	}
	purpose, err := cms.ParsePurpose(vf.purpose)
	if err != nil {
		return cmdLinef("--purpose: %v", err)
	}
	opts := &cms.VerifyOptions{RequireCAdES: vf.cades, OCSP: vf.ocsp, SkipChainVerification: vf.noChain, Purpose: purpose, OCSPMaxAge: vf.ocspMaxAge}
	if vf.ocsp {
		opts.CRLFetch = fetchCRL
	}
	if vf.at != "" {
		if opts.CurrentTime, err = time.Parse(time.RFC3339, vf.at); err != nil {
			return cmdLinef("--at %q: want an RFC 3339 time such as 2026-01-31T12:00:00Z", vf.at)
		}
	}
	switch {
	case vf.noChain:
	case len(vf.cas) > 0:
		roots, err := readCertificateFiles(vf.cas)
		if err != nil {
			return err
		}
		opts.Roots = roots
	default:
		cfg, err := loadConfig(configPath())
		if err != nil {
			return usageError{err}
		}
		if len(cfg.rootCerts) == 0 {
			return negativeError{errNoRoots}
		}
		opts.Roots = cfg.rootCerts
	}
	for _, f := range vf.crls {
		data, err := readInput(f, nil)
		if err != nil {
			return err
		}
		crl, err := pki.ParseCRL(data)
		if err != nil {
			return malformedError(f, "a CRL", data, err)
		}
		opts.CRLs = append(opts.CRLs, crl)
	}
	sigIn, err := openInput(vf.sig, std.in)
	if err != nil {
		return err
	}
	defer sigIn.Close()
	sig := &recorder{r: sigIn}
	var content io.Reader
	if vf.content != "" {
		f, err := openInput(vf.content, std.in)
		if err != nil {
			return err
		}
		defer f.Close()
		content = f
	}
	if vf.ocsp {
		// A responder that never answers must not hang the command.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, vf.ocspTimeout)
		defer cancel()
	}
	// The content goes aside and reaches --out only once verified: a
	// consumer of the file or of standard output never sees content
	// whose signature failed.
	var aside *os.File
	var contentOut io.Writer
	if vf.out != "" {
		dir := os.TempDir()
		if vf.out != "-" {
			dir = filepath.Dir(vf.out)
		}
		if aside, err = os.CreateTemp(dir, ".gostkey-*"); err != nil {
			return usageError{fmt.Errorf("cannot write %s: %w", vf.out, bareCause(err))}
		}
		defer os.Remove(aside.Name())
		defer aside.Close()
		contentOut = aside
	}
	res, verr := cms.VerifyStream(ctx, sig, content, contentOut, opts)
	if res == nil {
		if errors.Is(verr, cms.ErrMalformed) {
			return sig.malformed(vf.sig, verr)
		}
		return usageError{verr}
	}
	report := reportTo(vf.out, std)
	fmt.Fprintf(report, "content type: %s%s\n", contentTypeName(res.ContentType), map[bool]string{true: " (detached)", false: " (attached)"}[res.Detached])
	var failed []error
	for i, s := range res.Signers {
		unchecked := revocationUnchecked(s, vf)
		if unchecked != "" && !vf.requireRevoc {
			s.Err = nil
		}
		printSigner(report, i+1, s, vf.noChain, unchecked, revocation)
		if s.Err != nil {
			failed = append(failed, s.Err) // it names the signer
		}
	}
	if len(failed) > 0 {
		return negativeError{errors.Join(failed...)}
	}
	if vf.out != "" {
		if res.Detached {
			return cmdLinef("--out: the signature is detached; the content is in your --content file")
		}
		if err := keepAside(aside, vf.out, std.out); err != nil {
			return err
		}
	}
	if vf.noChain {
		fmt.Fprintf(report, "signatures valid, signer not verified: %d signer(s) (--no-chain: nothing says who they are)\n", len(res.Signers))
		return nil
	}
	fmt.Fprintf(report, "valid: %d signer(s)\n", len(res.Signers))
	return nil
}

// revocationUnchecked is why revocation of a signer was not checked when
// the only source asked for was OCSP and a certificate of the chain names
// no responder (the failure cms reports without an underlying error, as
// nothing was asked), or "" when it was checked or failed otherwise.
func revocationUnchecked(s *cms.SignerResult, vf *verifyFlags) string {
	var se *cms.SignerError
	if !vf.ocsp || len(vf.crls) > 0 || !errors.As(s.Err, &se) || se.Reason != cms.RevocationUnknown || se.Err != nil || len(s.Chain) == 0 {
		return ""
	}
	return se.Detail
}

// attributesRead reports whether verification of a signer went as far as
// its signed attributes, so that "CAdES-BES: no" means the attribute is
// absent, not that nobody looked.
func attributesRead(s *cms.SignerResult) bool {
	var se *cms.SignerError
	if s.Err == nil || !errors.As(s.Err, &se) {
		return s.Err == nil
	}
	switch se.Reason {
	case cms.DigestMismatch, cms.WrongPurpose, cms.ChainInvalid, cms.Revoked, cms.RevocationUnknown:
		return true
	}
	return false
}

func printSigner(w io.Writer, n int, s *cms.SignerResult, noChain bool, unchecked string, revocation bool) {
	status := "valid"
	switch {
	case s.Err != nil:
		status = "INVALID: " + oneLine(s.Err.Error())
	case noChain:
		status = "signature valid, signer not verified (--no-chain)"
	}
	fmt.Fprintf(w, "signer %d: %s\n", n, status)
	// Only a verified chain makes the certificate's names evidence.
	claimed := ""
	if s.Err != nil || len(s.Chain) == 0 {
		claimed = "claimed "
	}
	if c := s.Certificate; c != nil {
		fmt.Fprintf(w, "  %ssubject: %s\n", claimed, c.Subject)
		if c.Subject.SNILS != "" {
			fmt.Fprintf(w, "  %sSNILS: %s\n", claimed, c.Subject.SNILS)
		}
		if c.Subject.INN != "" {
			fmt.Fprintf(w, "  %sINN: %s\n", claimed, c.Subject.INN)
		}
		fmt.Fprintf(w, "  issuer: %s\n", c.Issuer)
		fmt.Fprintf(w, "  serial: %s\n", serialHex(c.SerialNumber))
	}
	if !s.SigningTime.IsZero() {
		fmt.Fprintf(w, "  claimed signing time: %s\n", s.SigningTime.UTC().Format(time.RFC3339))
	}
	switch s.TimeBasis {
	case cms.TimeAsserted:
		fmt.Fprintf(w, "  checked at %s (asserted by --at)\n", s.CheckedAt.UTC().Format(time.RFC3339))
	case cms.TimeNow:
		fmt.Fprintf(w, "  checked at %s (now)\n", s.CheckedAt.UTC().Format(time.RFC3339))
	}
	if attributesRead(s) {
		fmt.Fprintf(w, "  algorithm: %s; CAdES-BES: %s\n", s.Algorithm, yesNo(s.CAdES))
	} else if s.Algorithm != 0 {
		fmt.Fprintf(w, "  algorithm: %s\n", s.Algorithm)
	}
	if len(s.Chain) > 0 {
		names := make([]string, len(s.Chain))
		for i, c := range s.Chain {
			names[i] = c.Subject.String()
		}
		fmt.Fprintf(w, "  chain: %s\n", strings.Join(names, " <- "))
	}
	switch {
	case unchecked != "":
		fmt.Fprintf(w, "  revocation: NOT CHECKED (%s)\n", unchecked)
	case !revocation && !noChain && s.Err == nil:
		fmt.Fprintln(w, "  revocation: not checked (no --crl or --ocsp)")
	case revocation && s.Err == nil && len(s.Chain) > 1:
		fmt.Fprintf(w, "  revocation: not revoked (checked: %d certificate(s), all of the chain but the root)\n", len(s.Chain)-1)
	case revocation && s.Err == nil:
		fmt.Fprintln(w, "  revocation: not revoked")
	}
}

var contentTypes = map[string]string{
	"1.2.840.113549.1.7.1":       "data",
	"1.2.840.113549.1.7.2":       "signedData",
	"1.2.840.113549.1.9.16.1.4":  "TSTInfo (timestamp token)",
	"1.2.840.113549.1.9.16.1.2":  "authData",
	"1.2.840.113549.1.9.16.1.23": "authEnvelopedData",
}

func contentTypeName(oid asn1.ObjectIdentifier) string {
	if name, ok := contentTypes[oid.String()]; ok {
		return fmt.Sprintf("%s (%s)", name, oid)
	}
	return oid.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// keepAside moves verified content from the file it was written aside to
// --out: renamed into place, or copied to standard output.
func keepAside(aside *os.File, out string, stdout io.Writer) error {
	if err := aside.Sync(); err != nil {
		return usageError{fmt.Errorf("cannot write %s: %w", out, bareCause(err))}
	}
	if out == "-" {
		if _, err := aside.Seek(0, io.SeekStart); err != nil {
			return usageError{err}
		}
		if _, err := io.Copy(stdout, aside); err != nil {
			return usageError{fmt.Errorf("standard output: %w", err)}
		}
		return nil
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return usagef("cannot write %s: is a directory", out)
	}
	if err := os.Chmod(aside.Name(), 0o644); err != nil {
		return usageError{fmt.Errorf("cannot write %s: %w", out, bareCause(err))}
	}
	if err := os.Rename(aside.Name(), out); err != nil {
		return usageError{fmt.Errorf("cannot write %s: %w", out, bareCause(err))}
	}
	return nil
}

// diagLimit is how much of a signature is kept for describing what is
// wrong with it when it turns out malformed; a bigger one is described
// by the parser's words only.
const diagLimit = 16 << 20

// recorder passes a signature through to the streaming verifier and keeps
// its first diagLimit bytes.
type recorder struct {
	r    io.Reader
	buf  []byte
	over bool
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	if !rc.over {
		if len(rc.buf)+n > diagLimit {
			rc.over, rc.buf = true, nil
		} else {
			rc.buf = append(rc.buf, p[:n]...)
		}
	}
	return n, err
}

// malformed describes an unreadable signature: the verifier stops at the
// first bad element, so the rest is read first, for the whole picture.
func (rc *recorder) malformed(file string, err error) error {
	if _, cerr := io.CopyN(io.Discard, rc, diagLimit); cerr == io.EOF && !rc.over {
		return malformedError(file, "a CMS signature", rc.buf, err)
	}
	if reason := plainReason(err); reason != "" {
		return usagef("%s: not a CMS signature (%s)", file, strings.TrimPrefix(reason, cms.ErrMalformed.Error()+": "))
	}
	return usagef("%s: not a CMS signature (malformed)", file)
}

// maxCRLSize bounds a CRL fetched from a distribution point: a hostile
// server must not fill memory.
const maxCRLSize = 16 << 20

// fetchCRL gets the CRL at a distribution point (http or https, as RFC
// 5280 §4.2.1.13 has it; DER or PEM), within ctx (--ocsp-timeout).
func fetchCRL(ctx context.Context, url string) (*pki.CRL, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("not an HTTP URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, bareCause(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLSize+1))
	if err != nil {
		return nil, bareCause(err)
	}
	if len(der) > maxCRLSize {
		return nil, fmt.Errorf("the CRL is over %d bytes", maxCRLSize)
	}
	return pki.ParseCRL(der)
}
