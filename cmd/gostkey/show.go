package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"

	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "cert show", usage: "FILE", summary: "print a certificate, certificate request or CRL (PEM or DER) readably", run: runCertShow})
}

type describer interface{ Describe(io.Writer) error }

func runCertShow(ctx context.Context, std stdio, args []string) error {
	fs := newFlags(commands["cert show"], std)
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("want exactly one FILE")
	}
	in, err := openInput(files[0], std.in)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(in)
	in.Close()
	if err != nil {
		return usageError{err}
	}
	objs, err := parseObjects(data)
	if err != nil {
		return usagef("%s: %v", files[0], err)
	}
	for i, o := range objs {
		if i > 0 {
			fmt.Fprintln(std.out)
		}
		if err := o.Describe(std.out); err != nil {
			return err
		}
	}
	return nil
}

// parseObjects reads every PEM block of a known type, or one DER object of
// whichever kind parses.
func parseObjects(data []byte) ([]describer, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		o, err := parseDER(data)
		if err != nil {
			return nil, err
		}
		return []describer{o}, nil
	}
	var objs []describer
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var o describer
		var err error
		switch b.Type {
		case "CERTIFICATE":
			o, err = pki.ParseCertificate(b.Bytes)
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			o, err = pki.ParseCertificateRequest(b.Bytes)
		case "X509 CRL":
			o, err = pki.ParseCRL(b.Bytes)
		default:
			return nil, fmt.Errorf("PEM block %q is not a certificate, request or CRL", b.Type)
		}
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no PEM block found")
	}
	return objs, nil
}

func parseDER(der []byte) (describer, error) {
	cert, cerr := pki.ParseCertificate(der)
	if cerr == nil {
		return cert, nil
	}
	if csr, err := pki.ParseCertificateRequest(der); err == nil {
		return csr, nil
	}
	if crl, err := pki.ParseCRL(der); err == nil {
		return crl, nil
	}
	return nil, fmt.Errorf("neither a certificate, a certificate request nor a CRL (as a certificate: %v)", cerr)
}
