package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gostkey/gostkey/ca/client"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

// Holder commands: enroll with an activation code, renew with the current
// key. Both make the new key on the token and its request there; the
// private key never leaves the token.
//
// Renewal keeps the old key and certificate on the token: once the CA has
// issued the successor, the old key (its public key and certificate with
// it) is relabelled K.prev-<serial of the old certificate> and the new key
// takes the label K, so `--key K` names the current key afterwards, and
// signatures made before stay verifiable against a certificate still on
// the token. While the request is with the CA the new key is labelled
// K.next-<random>; a refused renewal deletes it again.

func init() {
	register(&command{name: "enroll", usage: "--ca URL --tls-root F --code CODE --module M --token L --pin-file F --alg gost256-A --label K [--chain-out FILE]",
		summary: "get a certificate from the CA with a one-time activation code: key and request made on the token, certificate stored beside the key", setup: setupEnroll})
	register(&command{name: "renew", usage: "--ca URL --tls-root F --module M --token L --pin-file F --key K [--chain-out FILE]",
		summary: "renew the certificate of key K inside the renewal window: a new key on the token takes the label K, the old key and certificate stay as K.prev-SERIAL", setup: setupRenew})
}

// enrollSubject is the subject of the requests enroll and renew send. The
// CA ignores it (it certifies the registered identity), so it says
// nothing about the holder.
var enrollSubject = pki.Name{CommonName: "gostkey enrollment request"}

func setupEnroll(fs *pflag.FlagSet, g *globals) runFunc {
	var cf caFlags
	cf.register(fs, false)
	var tf tokenFlags
	tf.register(fs, g, true)
	codeText := fs.String("code", "", "the one-time activation `CODE` the registrar gave (XXXX-XXXX-XXXX-C), or the enrollment link gostkey://enroll?… (which names the CA: --ca may be left out)")
	alg := fs.String("alg", "gost256-A", "key algorithm `ALG` (as key gen; the CA allows GOST keys)")
	label := fs.String("label", "", "the new key's `LABEL`")
	chainOut := fs.String("chain-out", "", "write the CA certificates (issuing CA, root; PEM) to `FILE`, for sign --chain")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *codeText == "" || *label == "" {
			return cmdLinef("--code and --label are required")
		}
		// A typo is caught here, before the token or the network.
		var secret code.Secret
		var err error
		if strings.HasPrefix(*codeText, code.LinkScheme+":") {
			// The enrollment link (the QR code's text) names the CA too.
			var linked string
			if linked, secret, err = code.ParseLink(*codeText); err == nil {
				if cf.url != "" && cf.url != linked {
					return usagef("--code: the enrollment link is for the CA at %s, not --ca %s", linked, cf.url)
				}
				cf.url = linked
			} else if !errors.Is(err, code.ErrMistyped) {
				return usagef("--code: not an enrollment link (%s://enroll?ca=…&code=…)", code.LinkScheme)
			}
		} else {
			secret, err = code.Parse(*codeText)
		}
		if errors.Is(err, code.ErrMistyped) {
			return usagef("--code: mistyped: the check character (the last one) does not match the rest; check the code and type it again")
		}
		if err != nil {
			return usagef("--code: not an activation code (12 characters and a check character, XXXX-XXXX-XXXX-C)")
		}
		spec, err := keySpecFor(*alg, *label)
		if err != nil {
			return err
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		ms, t, err := tf.openToken()
		if err != nil {
			return err
		}
		defer ms.Close()
		key, err := tf.generateKey(ctx, t, spec)
		if err != nil {
			return err
		}
		issued, err := requestCertificate(ctx, key, func(csr []byte) (*client.Issued, error) {
			return c.Enroll(ctx, secret, csr)
		})
		if err != nil {
			return err
		}
		if err := storeIssued(ctx, key, issued, *chainOut, std); err != nil {
			return err
		}
		fmt.Fprintf(std.out, "enrolled key %q on token %q\n", key.Label(), t.Info().Label)
		printIssued(std, issued)
		return nil
	}
}

// requestCertificate sends key's request through send. A key the CA
// refused to certify is deleted again: it would only take up the label
// (and a token's few key slots), and the holder retries under the same
// label. When the answer is lost (a network error, a timeout) the CA may
// have issued all the same, so the key is kept.
func requestCertificate(ctx context.Context, key *pkcs11.Key, send func(csr []byte) (*client.Issued, error)) (*client.Issued, error) {
	issued, err := func() (*client.Issued, error) {
		csr, err := certificateRequest(enrollSubject, key)
		if err != nil {
			return nil, err
		}
		issued, err := send(csr)
		if err != nil {
			return nil, caError(err)
		}
		if !samePublicKey(issued.Certificate, key) {
			return nil, fmt.Errorf("the CA's certificate %s is not for the key sent", issued.Serial)
		}
		return issued, nil
	}()
	var refused *client.APIError
	if err != nil && !errors.As(err, &refused) {
		return nil, fmt.Errorf("%w (the new key %q is kept on the token: the CA may have certified it)", err, key.Label())
	}
	if err != nil {
		if derr := key.Token().DeleteKey(context.WithoutCancel(ctx), key); derr != nil {
			return nil, fmt.Errorf("%w (and the new key %q could not be deleted: %v)", err, key.Label(), derr)
		}
		return nil, err
	}
	return issued, nil
}

func samePublicKey(cert *pki.Certificate, key *pkcs11.Key) bool {
	eq, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	return eq.Equal(key.Public())
}

// storeIssued imports the certificate beside key and writes the chain.
func storeIssued(ctx context.Context, key *pkcs11.Key, issued *client.Issued, chainOut string, std stdio) error {
	if err := key.Token().ImportCertificate(ctx, key, issued.Certificate.Raw); err != nil {
		return tokenError(fmt.Errorf("the CA issued certificate %s, but storing it on the token failed: %w", issued.Serial, err))
	}
	if chainOut == "" {
		return nil
	}
	var b bytes.Buffer
	for _, c := range issued.Chain {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := writeOutput(chainOut, b.Bytes(), std.out); err != nil {
		return err
	}
	fmt.Fprintf(reportTo(chainOut, std), "wrote the CA chain (%d certificates) to %s\n", len(issued.Chain), chainOut)
	return nil
}

func printIssued(std stdio, issued *client.Issued) {
	c := issued.Certificate
	fmt.Fprintf(std.out, "subject: %s\n", c.Subject)
	fmt.Fprintf(std.out, "serial:  %s\n", caSerial(issued.Serial))
	fmt.Fprintf(std.out, "valid:   %s to %s\n", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
}

func setupRenew(fs *pflag.FlagSet, g *globals) runFunc {
	var cf caFlags
	cf.register(fs, false)
	var tf tokenFlags
	tf.register(fs, g, true)
	keyRef := fs.String("key", "", "the current key's `LABEL` or pkcs11: URI (it must have its certificate on the token)")
	alg := fs.String("alg", "", "the new key's algorithm `ALG` (default: the current key's)")
	chainOut := fs.String("chain-out", "", "write the CA certificates (issuing CA, root; PEM) to `FILE`, for sign --chain")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *keyRef == "" {
			return cmdLinef("--key is required")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		ms, old, err := tf.openKey(ctx, *keyRef)
		if err != nil {
			return err
		}
		defer ms.Close()
		der := old.Certificate()
		if der == nil {
			return usagef("key %q has no certificate on the token: nothing to renew (enroll instead)", old.Label())
		}
		oldCert, err := pki.ParseCertificate(der)
		if err != nil {
			return malformedError(fmt.Sprintf("the certificate of key %q", old.Label()), "a certificate", der, err)
		}
		label := old.Label()
		oldSerial := serialHex(oldCert.SerialNumber)
		nonce := make([]byte, 4)
		_, _ = rand.Read(nonce)
		spec, err := renewalSpec(*alg, old, label+".next-"+hex.EncodeToString(nonce))
		if err != nil {
			return err
		}
		key, err := tf.generateKey(ctx, old.Token(), spec)
		if err != nil {
			return err
		}
		issued, err := requestCertificate(ctx, key, func(csr []byte) (*client.Issued, error) {
			// The proof: the request signed by the current key, as
			// CAdES-BES with its signingTime (the CA wants it fresh).
			signed, err := cms.Sign(bytes.NewReader(csr), old, oldCert, &cms.SignOptions{})
			if err != nil {
				return nil, tokenError(fmt.Errorf("signing the renewal request with key %q: %w", label, err))
			}
			return c.Renew(ctx, signed)
		})
		if err != nil {
			return err
		}
		if err := storeIssued(ctx, key, issued, *chainOut, std); err != nil {
			return err
		}
		prev := label + ".prev-" + oldSerial
		if err := old.Token().RelabelKey(ctx, old, prev); err != nil {
			return tokenError(fmt.Errorf("the new certificate is stored beside key %q, but the old key could not be relabelled %q: %w", key.Label(), prev, err))
		}
		if err := key.Token().RelabelKey(ctx, key, label); err != nil {
			return tokenError(fmt.Errorf("the new certificate is stored beside key %q, but it could not be relabelled %q: %w", key.Label(), label, err))
		}
		fmt.Fprintf(std.out, "renewed: key %q is the new key; the old key and certificate are kept as %q\n", label, prev)
		printIssued(std, issued)
		return nil
	}
}

// renewalSpec is the new key's spec: --alg, or the current key's curve.
func renewalSpec(alg string, old *pkcs11.Key, label string) (pkcs11.KeySpec, error) {
	if alg != "" {
		return keySpecFor(alg, label)
	}
	switch pub := old.Public().(type) {
	case *gost.PublicKey:
		return pkcs11.KeySpec{Label: label, Curve: pub.Curve}, nil
	case *ecdsa.PublicKey:
		return pkcs11.KeySpec{Label: label, ECDSA: pub.Curve}, nil
	}
	return pkcs11.KeySpec{}, usagef("key %q: %s keys cannot be made on a token; give --alg", old.Label(), algorithmName(old.Public()))
}
