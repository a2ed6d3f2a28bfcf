package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "sign", usage: "--module M --token L --pin-file F --key K --in FILE --out FILE.sig [--attached] [--pem] [--cert CERT.pem] [--chain CA.pem]... [--cosign EXISTING.sig]", summary: "sign a file with a token key: CAdES-BES, detached by default; --cosign adds a signature to an existing one", run: runSign})
	register(&command{name: "verify", usage: "--sig SIG [--content FILE] [--ca CA.pem]... [--crl FILE]... [--ocsp] [--cades] [--out FILE]", summary: "verify a CMS/CAdES signature: exit 0 valid, 1 invalid, 2 unreadable", run: runVerify})
}

func runSign(ctx context.Context, std stdio, args []string) error {
	var tf tokenFlags
	fs := newFlags(commands["sign"], std)
	tf.register(fs, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	in := fs.String("in", "", "the document `FILE` (- for standard input)")
	out := fs.String("out", "", "write the signature to `FILE`")
	attached := fs.Bool("attached", false, "put the document inside the signature")
	asPEM := fs.Bool("pem", false, "write PEM instead of DER")
	certFile := fs.String("cert", "", "signer certificate `FILE` (default: the one stored beside the key)")
	var chain stringList
	fs.Var(&chain, "chain", "embed the CA certificates in `FILE` (repeatable)")
	cosign := fs.String("cosign", "", "add this signature to the existing signature `FILE` (the other signatures are kept as they are)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyRef == "" || *in == "" || *out == "" {
		return usagef("--key, --in and --out are required")
	}
	extra, err := readCertificateFiles(chain)
	if err != nil {
		return err
	}
	ms, key, err := tf.openKey(ctx, *keyRef)
	if err != nil {
		return err
	}
	defer ms.Close()
	var cert *pki.Certificate
	if *certFile != "" {
		certs, err := readCertificateFiles([]string{*certFile})
		if err != nil {
			return err
		}
		cert = certs[0]
	} else {
		der := key.Certificate()
		if der == nil {
			return usagef("key %q has no certificate on the token: import one with `gostkey cert import` or pass --cert", key.Label())
		}
		if cert, err = pki.ParseCertificate(der); err != nil {
			return usagef("the certificate of key %q: %v", key.Label(), err)
		}
	}
	doc, err := openInput(*in, std.in)
	if err != nil {
		return err
	}
	defer doc.Close()
	opts := &cms.SignOptions{Detached: !*attached, PEM: *asPEM, ExtraCerts: extra}
	var sig []byte
	if *cosign != "" {
		existing, rerr := os.ReadFile(*cosign)
		if rerr != nil {
			return usageError{rerr}
		}
		sig, err = cms.AddSigner(existing, doc, key, cert, opts)
		if errors.Is(err, cms.ErrMalformed) {
			return usagef("%s: %v", *cosign, err)
		}
	} else {
		sig, err = cms.Sign(doc, key, cert, opts)
	}
	if err != nil {
		return tokenError(err)
	}
	if err := writeFileAtomic(*out, sig); err != nil {
		return err
	}
	kind := "detached"
	if *attached {
		kind = "attached"
	}
	if *cosign != "" {
		kind = "co-signed"
	}
	fmt.Fprintf(std.out, "signed %s with key %q (%s): %s CAdES-BES signature in %s\n", *in, key.Label(), cert.Subject, kind, *out)
	return nil
}

func readCertificateFiles(files []string) ([]*pki.Certificate, error) {
	var all []*pki.Certificate
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError{err}
		}
		certs, err := pki.ParseCertificates(data)
		if err != nil {
			return nil, usagef("%s: %v", f, err)
		}
		if len(certs) == 0 {
			return nil, usagef("%s: no certificate", f)
		}
		all = append(all, certs...)
	}
	return all, nil
}

func runVerify(ctx context.Context, std stdio, args []string) error {
	fs := newFlags(commands["verify"], std)
	sigFile := fs.String("sig", "", "the signature `FILE` (CMS/CAdES, PEM or DER)")
	contentFile := fs.String("content", "", "the signed document `FILE`, for a detached signature")
	var cas, crls stringList
	fs.Var(&cas, "ca", "trusted root certificates `FILE` (repeatable); without it the chain is not checked")
	fs.Var(&crls, "crl", "check revocation against the CRL in `FILE` (repeatable)")
	useOCSP := fs.Bool("ocsp", false, "check revocation with the OCSP responders named in the certificates")
	ocspTimeout := fs.Duration("ocsp-timeout", 30*time.Second, "give up on OCSP responders after `DURATION`")
	cades := fs.Bool("cades", false, "require CAdES-BES (a signingCertificate attribute), as openssl cms -verify -cades")
	out := fs.String("out", "", "write the content of an attached signature to `FILE`")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sigFile == "" {
		return usagef("--sig is required")
	}
	sig, err := os.ReadFile(*sigFile)
	if err != nil {
		return usageError{err}
	}
	opts := &cms.VerifyOptions{RequireCAdES: *cades, OCSP: *useOCSP}
	if len(cas) == 0 {
		if *useOCSP || len(crls) > 0 {
			return usagef("revocation checks need the chain: pass --ca")
		}
		opts.SkipChainVerification = true
	} else if opts.Roots, err = readCertificateFiles(cas); err != nil {
		return err
	}
	for _, f := range crls {
		data, err := os.ReadFile(f)
		if err != nil {
			return usageError{err}
		}
		crl, err := pki.ParseCRL(data)
		if err != nil {
			return usagef("%s: %v", f, err)
		}
		opts.CRLs = append(opts.CRLs, crl)
	}
	var content io.Reader
	if *contentFile != "" {
		f, err := openInput(*contentFile, std.in)
		if err != nil {
			return err
		}
		defer f.Close()
		content = f
	}
	if *useOCSP {
		// A responder that never answers must not hang the command.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *ocspTimeout)
		defer cancel()
	}
	res, verr := cms.VerifyContext(ctx, sig, content, opts)
	if res == nil {
		if errors.Is(verr, cms.ErrMalformed) {
			return usagef("%s: %v", *sigFile, verr)
		}
		return usageError{verr}
	}
	for i, s := range res.Signers {
		printSigner(std.out, i+1, s)
	}
	if verr != nil {
		return negativeError{verr}
	}
	if opts.SkipChainVerification {
		fmt.Fprintln(std.err, "gostkey verify: warning: no --ca given: the signatures are valid but the signer certificates are not checked against a trusted root")
	}
	if *out != "" {
		if res.Detached {
			return usagef("--out: the signature is detached; the content is in your --content file")
		}
		if err := writeFileAtomic(*out, res.Content); err != nil {
			return err
		}
	}
	fmt.Fprintf(std.out, "valid: %d signer(s)\n", len(res.Signers))
	return nil
}

func printSigner(w io.Writer, n int, s *cms.SignerResult) {
	status := "valid"
	if s.Err != nil {
		status = "INVALID: " + oneLine(s.Err.Error())
	}
	fmt.Fprintf(w, "signer %d: %s\n", n, status)
	if c := s.Certificate; c != nil {
		fmt.Fprintf(w, "  subject: %s\n", c.Subject)
		if c.Subject.SNILS != "" {
			fmt.Fprintf(w, "  SNILS: %s\n", c.Subject.SNILS)
		}
		if c.Subject.INN != "" {
			fmt.Fprintf(w, "  INN: %s\n", c.Subject.INN)
		}
		fmt.Fprintf(w, "  issuer: %s\n", c.Issuer)
		fmt.Fprintf(w, "  serial: %X\n", c.SerialNumber)
	}
	if !s.SigningTime.IsZero() {
		fmt.Fprintf(w, "  signing time: %s\n", s.SigningTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  algorithm: %s; CAdES-BES: %s\n", s.Algorithm, yesNo(s.CAdES))
	if len(s.Chain) > 0 {
		names := make([]string, len(s.Chain))
		for i, c := range s.Chain {
			names[i] = c.Subject.String()
		}
		fmt.Fprintf(w, "  chain: %s\n", strings.Join(names, " <- "))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
