package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "sign", usage: "--module M --token L --pin-file F --key K --in FILE [--in FILE]... [--in-list LIST] [--out FILE.sig|DIR] [--attached] [--pem] [--cert CERT.pem] [--chain CA.pem]... [--cosign EXISTING.sig]",
		summary: "sign documents with a token key: CAdES-BES, detached by default, one login for all; --cosign adds a signature to an existing one", setup: setupSign})
}

func setupSign(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	ins := fs.StringArray("in", nil, "a document `FILE` to sign (repeatable; - for standard input)")
	inList := fs.String("in-list", "", "sign the documents listed in `LIST`, one path a line (- for standard input)")
	out := fs.String("out", "", "write the signature to `FILE` (- for standard output); with several documents a directory (default: each document's name plus .sig, beside it)")
	attached := fs.Bool("attached", false, "put the document inside the signature")
	asPEM := fs.Bool("pem", false, "write PEM instead of DER")
	certFile := fs.String("cert", "", "signer certificate `FILE` (default: the one stored beside the key)")
	chain := fs.StringArray("chain", nil, "embed the CA certificates in `FILE` (repeatable)")
	cosign := fs.String("cosign", "", "add this signature to the existing signature `FILE` (the other signatures are kept as they are)")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *keyRef == "" {
			return cmdLinef("--key is required")
		}
		docs, err := signInputs(*ins, *inList, std.in)
		if err != nil {
			return err
		}
		if *cosign != "" && len(docs) > 1 {
			return cmdLinef("--cosign adds to one signature: give one document")
		}
		outs, err := signOutputs(docs, *out)
		if err != nil {
			return err
		}
		extra, err := readCertificateFiles(*chain)
		if err != nil {
			return err
		}
		var existing []byte
		if *cosign != "" {
			if existing, err = readInput(*cosign, nil); err != nil {
				return err
			}
		}
		var cert *pki.Certificate
		if *certFile != "" {
			certs, err := readCertificates(*certFile, nil)
			if err != nil {
				return err
			}
			cert = certs[0]
		}
		ms, key, err := tf.openKey(ctx, *keyRef)
		if err != nil {
			return err
		}
		defer ms.Close()
		if cert == nil {
			der := key.Certificate()
			if der == nil {
				return usagef("key %q has no certificate on the token: import one with `gostkey cert import` or pass --cert", key.Label())
			}
			if cert, err = pki.ParseCertificate(der); err != nil {
				return malformedError(fmt.Sprintf("the certificate of key %q", key.Label()), "a certificate", der, err)
			}
		}
		kind := "detached"
		if *attached {
			kind = "attached"
		}
		if *cosign != "" {
			kind = "co-signed"
		}
		opts := &cms.SignOptions{Detached: !*attached, PEM: *asPEM, ExtraCerts: extra}
		for i, doc := range docs {
			if err := ctx.Err(); err != nil {
				return usageError{err}
			}
			if err := signOne(doc, outs[i], existing, *cosign, key, cert, opts, std); err != nil {
				if len(docs) > 1 {
					return fmt.Errorf("document %d of %d: %w", i+1, len(docs), err)
				}
				return err
			}
			fmt.Fprintf(reportTo(outs[i], std), "signed %s with key %q (%s): %s CAdES-BES signature in %s\n", doc, key.Label(), cert.Subject, kind, outs[i])
		}
		return nil
	}
}

func signOne(doc, out string, existing []byte, cosignFile string, key crypto.Signer, cert *pki.Certificate, opts *cms.SignOptions, std stdio) error {
	in, err := openInput(doc, std.in)
	if err != nil {
		return err
	}
	defer in.Close()
	if existing == nil && !opts.Detached {
		// An attached signature holds the document: streamed, it costs
		// constant memory whatever the document's size. A known size
		// makes DER; a pipe makes indefinite-length BER.
		size := int64(-1)
		if f, ok := in.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				size = st.Size()
			}
		}
		err := streamOutput(out, std.out, func(w io.Writer) error {
			return cms.SignStream(w, in, size, []cms.Signer{{Key: key, Certificate: cert}}, opts)
		})
		var ue usageError
		if err != nil && !errors.As(err, &ue) {
			return tokenError(fmt.Errorf("%s: %w", doc, err))
		}
		return err
	}
	var sig []byte
	if existing != nil {
		sig, err = cms.AddSigner(existing, in, key, cert, opts)
		if errors.Is(err, cms.ErrMalformed) {
			return malformedError(cosignFile, "a CMS signature", existing, err)
		}
	} else {
		sig, err = cms.Sign(in, key, cert, opts)
	}
	if err != nil {
		return tokenError(fmt.Errorf("%s: %w", doc, err))
	}
	return writeOutput(out, sig, std.out)
}

// signInputs gathers the documents of --in and --in-list, refusing a
// document named twice (its second signature would overwrite the first).
func signInputs(ins []string, inList string, stdin io.Reader) ([]string, error) {
	docs := append([]string(nil), ins...)
	if inList != "" {
		data, err := readInput(inList, stdin)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if line := strings.TrimSuffix(sc.Text(), "\r"); strings.TrimSpace(line) != "" {
				docs = append(docs, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", inList, err)}
		}
		if len(docs) == len(ins) {
			return nil, usagef("%s lists no document", inList)
		}
	}
	if len(docs) == 0 {
		return nil, cmdLinef("--in (or --in-list) is required")
	}
	seen := map[string]bool{}
	for _, d := range docs {
		if d == "-" && (len(docs) > 1 || inList == "-") {
			return nil, cmdLinef("standard input (-) can only be the one document signed")
		}
		if seen[filepath.Clean(d)] {
			return nil, cmdLinef("document %s is named twice", d)
		}
		seen[filepath.Clean(d)] = true
	}
	return docs, nil
}

// signOutputs decides where each signature goes. One document: --out is
// the file ("-": standard output) or, when it is a directory, the
// directory to put DOC.sig in. Several documents: --out must be a
// directory, and each signature is its document's base name plus .sig
// there. Without --out each signature is DOC.sig beside its document.
// Combinations that would overwrite something are refused.
func signOutputs(docs []string, out string) ([]string, error) {
	isDir := false
	if out != "" && out != "-" {
		st, err := os.Stat(out)
		isDir = err == nil && st.IsDir()
	}
	if len(docs) > 1 && out != "" && !isDir {
		return nil, cmdLinef("with %d documents --out must be an existing directory (or leave it out for DOC.sig beside each)", len(docs))
	}
	outs := make([]string, len(docs))
	inputs := map[string]bool{}
	for _, d := range docs {
		inputs[filepath.Clean(d)] = true
	}
	taken := map[string]string{}
	for i, d := range docs {
		switch {
		case d == "-" && (out == "" || isDir):
			return nil, cmdLinef("--out FILE is required when signing standard input")
		case out == "":
			outs[i] = d + ".sig"
		case isDir:
			outs[i] = filepath.Join(out, filepath.Base(d)+".sig")
		default:
			outs[i] = out
		}
		if outs[i] == "-" {
			continue
		}
		c := filepath.Clean(outs[i])
		if inputs[c] {
			return nil, cmdLinef("the signature of %s would overwrite the document %s", d, outs[i])
		}
		if other, dup := taken[c]; dup {
			return nil, cmdLinef("the signatures of %s and %s would both be %s", other, d, outs[i])
		}
		taken[c] = d
	}
	return outs, nil
}
