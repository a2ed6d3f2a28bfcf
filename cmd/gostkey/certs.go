package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "key list", usage: "--module M --token L [--pin-file F] [--pem]", summary: "list the keys of a token with their certificates", setup: setupKeyList})
	register(&command{name: "cert self-sign", usage: "--module M --token L --pin-file F --key K --subject DN --days N --out CERT.pem", summary: "make a self-signed certificate for a token key", setup: setupCertSelfSign})
	register(&command{name: "cert import", usage: "--module M --token L --pin-file F --key K --in CERT.pem", summary: "store a certificate on the token beside its key", setup: setupCertImport})
	register(&command{name: "cert request", usage: "--module M --token L --pin-file F --key K --subject DN --out REQ.pem", summary: "make a PKCS#10 certificate request signed by a token key, for an outside CA", setup: setupCertRequest})
	register(&command{name: "cert delete", usage: "--module M --token L --pin-file F --key K", summary: "delete the certificate stored beside a key", setup: setupDelete("cert delete", func(ctx context.Context, k *pkcs11.Key) error {
		if k.Certificate() == nil {
			return usagef("key %q has no certificate", k.Label())
		}
		return k.Token().DeleteCertificate(ctx, k)
	})})
	register(&command{name: "key delete", usage: "--module M --token L --pin-file F --key K", summary: "delete a key pair and its certificate from the token", setup: setupDelete("key delete", func(ctx context.Context, k *pkcs11.Key) error {
		return k.Token().DeleteKey(ctx, k)
	})})
}

func setupKeyList(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	asPEM := fs.Bool("pem", false, "print the keys' certificates as PEM instead of the listing")
	return func(ctx context.Context, std stdio, _ []string) error {
		ms, t, err := tf.openToken()
		if err != nil {
			return err
		}
		defer ms.Close()
		// Without a PIN file only the public objects are listed: asking for a
		// PIN just to list would surprise scripts.
		if tf.pinFile != "" {
			if err := tf.login(ctx, t); err != nil {
				return err
			}
		}
		keys, err := t.Keys(ctx)
		if err != nil {
			return tokenError(err)
		}
		for _, k := range keys {
			der := k.Certificate()
			if *asPEM {
				if der != nil {
					if err := pem.Encode(std.out, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
						return err
					}
				}
				continue
			}
			private := "private key"
			if !k.HasPrivateKey() {
				private = "no private key seen (log in with --pin-file to see private keys)"
			}
			fmt.Fprintf(std.out, "key %q id %s %s; %s\n", k.Label(), hex.EncodeToString(k.ID()), algorithmName(k.Public()), private)
			if der != nil {
				if c, err := pki.ParseCertificate(der); err != nil {
					fmt.Fprintf(std.out, "  certificate: unparsable (%s)\n", malformedError("the stored certificate", "a certificate", der, err))
				} else {
					fmt.Fprintf(std.out, "  certificate: %s, serial %s, valid %s to %s\n", c.Subject, serialHex(c.SerialNumber),
						c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
				}
			}
			fmt.Fprintf(std.out, "  uri %s\n", k.URI())
		}
		return nil
	}
}

// oidEmailProtection lets `openssl cms -verify` accept the certificate for
// S/MIME signing, its default purpose.
var oidEmailProtection = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}

// parseSubject reads --subject, refusing qualified identifiers (SNILS,
// INN, OGRN…) whose checksums fail: a certificate must not carry a
// number that cannot be anybody's.
func parseSubject(subject string) (pki.Name, error) {
	name, err := pki.ParseName(subject)
	if err != nil {
		return pki.Name{}, cmdLinef("--subject: %v", err)
	}
	if err := name.ValidateQualified(); err != nil {
		return pki.Name{}, usagef("--subject: %v", err)
	}
	return name, nil
}

func setupCertSelfSign(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	subject := fs.String("subject", "", "subject `DN`, e.g. \"CN=Иван Петров,SNILS=11223344595\"")
	days := fs.Int("days", 365, "validity in `DAYS`")
	out := fs.String("out", "", "write the PEM certificate to `FILE` (- for standard output)")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *keyRef == "" || *subject == "" || *out == "" {
			return cmdLinef("--key, --subject and --out are required")
		}
		if *days < 1 {
			return cmdLinef("--days must be positive")
		}
		name, err := parseSubject(*subject)
		if err != nil {
			return err
		}
		ms, key, err := tf.openKey(ctx, *keyRef)
		if err != nil {
			return err
		}
		defer ms.Close()
		now := time.Now().Truncate(time.Second)
		tmpl := &pki.Certificate{
			Subject:               name,
			NotBefore:             now.Add(-time.Minute),
			NotAfter:              now.AddDate(0, 0, *days),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			ExtKeyUsage:           []asn1.ObjectIdentifier{oidEmailProtection},
			BasicConstraintsValid: true,
		}
		der, err := pki.CreateCertificate(rand.Reader, tmpl, nil, key.Public(), key)
		if err != nil {
			return tokenError(err)
		}
		if err := writeOutput(*out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), std.out); err != nil {
			return err
		}
		fmt.Fprintf(reportTo(*out, std), "wrote self-signed certificate for key %q to %s\n", key.Label(), *out)
		return nil
	}
}

func setupCertImport(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	in := fs.String("in", "", "certificate `FILE`, PEM or DER (- for standard input)")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *keyRef == "" || *in == "" {
			return cmdLinef("--key and --in are required")
		}
		certs, err := readCertificates(*in, std.in)
		if err != nil {
			return err
		}
		if len(certs) != 1 {
			return usagef("%s holds %d certificates, want one", *in, len(certs))
		}
		ms, key, err := tf.openKey(ctx, *keyRef)
		if err != nil {
			return err
		}
		defer ms.Close()
		if err := key.Token().ImportCertificate(ctx, key, certs[0].Raw); err != nil {
			return tokenError(err)
		}
		fmt.Fprintf(std.out, "stored certificate %s (serial %s) beside key %q\n", certs[0].Subject, serialHex(certs[0].SerialNumber), key.Label())
		return nil
	}
}

func setupCertRequest(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	subject := fs.String("subject", "", "requested subject `DN`")
	out := fs.String("out", "", "write the PEM request to `FILE` (- for standard output)")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *keyRef == "" || *subject == "" || *out == "" {
			return cmdLinef("--key, --subject and --out are required")
		}
		name, err := parseSubject(*subject)
		if err != nil {
			return err
		}
		ms, key, err := tf.openKey(ctx, *keyRef)
		if err != nil {
			return err
		}
		defer ms.Close()
		der, err := certificateRequest(name, key)
		if err != nil {
			return err
		}
		if err := writeOutput(*out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), std.out); err != nil {
			return err
		}
		fmt.Fprintf(reportTo(*out, std), "wrote certificate request for key %q to %s\n", key.Label(), *out)
		return nil
	}
}

// certificateRequest is the PKCS#10 request for key, signed on its token,
// asking for a document-signing certificate (cert request, enroll, renew).
func certificateRequest(subject pki.Name, key *pkcs11.Key) ([]byte, error) {
	tmpl := &pki.CertificateRequest{
		Subject:     subject,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: []asn1.ObjectIdentifier{oidEmailProtection},
	}
	der, err := pki.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, tokenError(err)
	}
	return der, nil
}

// setupDelete makes the two delete commands, which differ only in what
// they remove.
func setupDelete(name string, del func(context.Context, *pkcs11.Key) error) func(*pflag.FlagSet, *globals) runFunc {
	return func(fs *pflag.FlagSet, g *globals) runFunc {
		var tf tokenFlags
		tf.register(fs, g, true)
		keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
		return func(ctx context.Context, std stdio, _ []string) error {
			if *keyRef == "" {
				return cmdLinef("--key is required")
			}
			ms, key, err := tf.openKey(ctx, *keyRef)
			if err != nil {
				return err
			}
			defer ms.Close()
			if err := del(ctx, key); err != nil {
				return tokenError(err)
			}
			fmt.Fprintf(std.out, "%s: done for key %q\n", name, key.Label())
			return nil
		}
	}
}

// readCertificates reads the certificates of one PEM or DER file ("-"
// being standard input).
func readCertificates(file string, stdin io.Reader) ([]*pki.Certificate, error) {
	data, err := readInput(file, stdin)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return nil, malformedError(file, "a certificate", data, err)
	}
	if len(certs) == 0 {
		return nil, usagef("%s: no certificate in it", file)
	}
	return certs, nil
}

func readCertificateFiles(files []string) ([]*pki.Certificate, error) {
	var all []*pki.Certificate
	for _, f := range files {
		certs, err := readCertificates(f, nil)
		if err != nil {
			return nil, err
		}
		all = append(all, certs...)
	}
	return all, nil
}

// readInput reads a whole file, "-" being standard input.
func readInput(file string, stdin io.Reader) ([]byte, error) {
	if file == "-" && stdin == nil {
		return nil, cmdLinef("standard input (-) cannot be used here")
	}
	in, err := openInput(file, stdin)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", file, err)}
	}
	return data, nil
}
