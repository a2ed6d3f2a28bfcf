package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "key list", usage: "--module M --token L [--pin-file F] [--pem]", summary: "list the keys of a token with their certificates", run: runKeyList})
	register(&command{name: "cert self-sign", usage: "--module M --token L --pin-file F --key K --subject DN --days N --out CERT.pem", summary: "make a self-signed certificate for a token key", run: runCertSelfSign})
	register(&command{name: "cert import", usage: "--module M --token L --pin-file F --key K --in CERT.pem", summary: "store a certificate on the token beside its key", run: runCertImport})
	register(&command{name: "cert request", usage: "--module M --token L --pin-file F --key K --subject DN --out REQ.pem", summary: "make a PKCS#10 certificate request signed by a token key, for an outside CA", run: runCertRequest})
	register(&command{name: "cert delete", usage: "--module M --token L --pin-file F --key K", summary: "delete the certificate stored beside a key", run: runCertDelete})
	register(&command{name: "key delete", usage: "--module M --token L --pin-file F --key K", summary: "delete a key pair and its certificate from the token", run: runKeyDelete})
}

func runKeyList(ctx context.Context, std stdio, args []string) error {
	var tf tokenFlags
	fs := newFlags(commands["key list"], std)
	tf.register(fs, true)
	asPEM := fs.Bool("pem", false, "print the keys' certificates as PEM instead of the listing")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
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
				fmt.Fprintf(std.out, "  certificate: unparsable: %v\n", err)
			} else {
				fmt.Fprintf(std.out, "  certificate: %s, serial %x, valid %s to %s\n", c.Subject, c.SerialNumber,
					c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
			}
		}
		fmt.Fprintf(std.out, "  uri %s\n", k.URI())
	}
	return nil
}

// oidEmailProtection lets `openssl cms -verify` accept the certificate for
// S/MIME signing, its default purpose.
var oidEmailProtection = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}

func runCertSelfSign(ctx context.Context, std stdio, args []string) error {
	var tf tokenFlags
	fs := newFlags(commands["cert self-sign"], std)
	tf.register(fs, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	subject := fs.String("subject", "", "subject `DN`, e.g. \"CN=Иван Петров,SNILS=11223344595\"")
	days := fs.Int("days", 365, "validity in `DAYS`")
	out := fs.String("out", "", "write the PEM certificate to `FILE`")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyRef == "" || *subject == "" || *out == "" {
		return usagef("--key, --subject and --out are required")
	}
	if *days < 1 {
		return usagef("--days must be positive")
	}
	name, err := pki.ParseName(*subject)
	if err != nil {
		return usagef("--subject: %v", err)
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
	if err := writePEMFile(*out, "CERTIFICATE", der); err != nil {
		return err
	}
	fmt.Fprintf(std.out, "wrote self-signed certificate for key %q to %s\n", key.Label(), *out)
	return nil
}

func runCertImport(ctx context.Context, std stdio, args []string) error {
	var tf tokenFlags
	fs := newFlags(commands["cert import"], std)
	tf.register(fs, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	in := fs.String("in", "", "certificate `FILE`, PEM or DER")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyRef == "" || *in == "" {
		return usagef("--key and --in are required")
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return usageError{err}
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return usagef("%s: %v", *in, err)
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
	fmt.Fprintf(std.out, "stored certificate %s (serial %x) beside key %q\n", certs[0].Subject, certs[0].SerialNumber, key.Label())
	return nil
}

// writePEMFile writes atomically, so an interrupted run never leaves half
// a certificate where a good one was.
func writePEMFile(path, blockType string, der []byte) error {
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gostkey-*")
	if err != nil {
		return usageError{err}
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return usageError{err}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return usageError{err}
	}
	if err := tmp.Close(); err != nil {
		return usageError{err}
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return usageError{err}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return usageError{err}
	}
	return nil
}

func runCertRequest(ctx context.Context, std stdio, args []string) error {
	var tf tokenFlags
	fs := newFlags(commands["cert request"], std)
	tf.register(fs, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	subject := fs.String("subject", "", "requested subject `DN`")
	out := fs.String("out", "", "write the PEM request to `FILE`")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyRef == "" || *subject == "" || *out == "" {
		return usagef("--key, --subject and --out are required")
	}
	name, err := pki.ParseName(*subject)
	if err != nil {
		return usagef("--subject: %v", err)
	}
	ms, key, err := tf.openKey(ctx, *keyRef)
	if err != nil {
		return err
	}
	defer ms.Close()
	tmpl := &pki.CertificateRequest{
		Subject:     name,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: []asn1.ObjectIdentifier{oidEmailProtection},
	}
	der, err := pki.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return tokenError(err)
	}
	if err := writePEMFile(*out, "CERTIFICATE REQUEST", der); err != nil {
		return err
	}
	fmt.Fprintf(std.out, "wrote certificate request for key %q to %s\n", key.Label(), *out)
	return nil
}

func runCertDelete(ctx context.Context, std stdio, args []string) error {
	return deleteFromToken(ctx, std, args, "cert delete", func(ctx context.Context, k *pkcs11.Key) error {
		if k.Certificate() == nil {
			return usagef("key %q has no certificate", k.Label())
		}
		return k.Token().DeleteCertificate(ctx, k)
	})
}

func runKeyDelete(ctx context.Context, std stdio, args []string) error {
	return deleteFromToken(ctx, std, args, "key delete", func(ctx context.Context, k *pkcs11.Key) error {
		return k.Token().DeleteKey(ctx, k)
	})
}

// deleteFromToken runs the two delete commands, which differ only in what
// they remove.
func deleteFromToken(ctx context.Context, std stdio, args []string, name string, del func(context.Context, *pkcs11.Key) error) error {
	var tf tokenFlags
	fs := newFlags(commands[name], std)
	tf.register(fs, true)
	keyRef := fs.String("key", "", "key `LABEL` or pkcs11: URI")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyRef == "" {
		return usagef("--key is required")
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
