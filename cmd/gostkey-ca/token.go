package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gostkey/gostkey/ca/config"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

// defaultModule is the softtoken installed beside this binary.
func defaultModule() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(exe), "libgostkey-softtoken.so")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no PKCS#11 module beside the binary (%s): pass --module", p)
	}
	return p, nil
}

// openModule points the softtoken at its store directory (the module reads
// GOSTKEY_SOFTTOKEN_DIR at C_Initialize) and opens the module.
func openModule(cfg *config.Config) (*pkcs11.Module, error) {
	if cfg.Token.SoftTokenDir != "" {
		if err := os.Setenv("GOSTKEY_SOFTTOKEN_DIR", cfg.Path(cfg.Token.SoftTokenDir)); err != nil {
			return nil, err
		}
	}
	return pkcs11.Open(cfg.Path(cfg.Token.Module), pkcs11.Options{})
}

// caKeys are the CA's token keys and their certificates.
type caKeys struct {
	root, issuing, ocsp, tls        *pkcs11.Key
	rootCert, issuingCert, ocspCert *pki.Certificate
	tlsChain                        [][]byte // leaf first
	tlsLeaf                         *pki.Certificate
}

// openKeys logs in and finds each key, and refuses to go on unless each
// key matches its certificate: the same public key, and a test signature
// by the token key that verifies under the certificate's key.
func openKeys(ctx context.Context, cfg *config.Config, m *pkcs11.Module) (*caKeys, error) {
	tok, err := pkcs11.Modules{m}.FindToken(cfg.Token.Label)
	if err != nil {
		return nil, fmt.Errorf("token %q: %w", cfg.Token.Label, err)
	}
	if err := tok.Login(ctx, pkcs11.PINFile(cfg.Path(cfg.Token.PINFile))); err != nil {
		return nil, fmt.Errorf("token login: %w", err)
	}
	k := &caKeys{}
	certs := []struct {
		path string
		dst  **pki.Certificate
	}{{cfg.Certs.Root, &k.rootCert}, {cfg.Certs.Issuing, &k.issuingCert}, {cfg.Certs.OCSP, &k.ocspCert}}
	for _, c := range certs {
		if *c.dst, err = readCert(cfg.Path(c.path)); err != nil {
			return nil, err
		}
	}
	chain, err := readCerts(cfg.Path(cfg.TLS.Cert))
	if err != nil {
		return nil, err
	}
	k.tlsLeaf = chain[0]
	for _, c := range chain {
		k.tlsChain = append(k.tlsChain, c.Raw)
	}
	for _, kc := range []struct {
		label string
		cert  *pki.Certificate
		dst   **pkcs11.Key
	}{{cfg.Keys.Root, k.rootCert, &k.root}, {cfg.Keys.Issuing, k.issuingCert, &k.issuing}, {cfg.Keys.OCSP, k.ocspCert, &k.ocsp}, {cfg.Keys.TLS, k.tlsLeaf, &k.tls}} {
		key, err := tok.FindKey(ctx, kc.label)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kc.label, err)
		}
		if err := keyMatches(key, kc.cert); err != nil {
			return nil, fmt.Errorf("key %q does not match its certificate: %w", kc.label, err)
		}
		*kc.dst = key
	}
	if err := k.issuingCert.CheckSignatureFrom(k.rootCert); err != nil {
		return nil, fmt.Errorf("the issuing CA certificate is not signed by the root: %w", err)
	}
	if err := k.ocspCert.CheckSignatureFrom(k.issuingCert); err != nil {
		return nil, fmt.Errorf("the OCSP responder certificate is not signed by the issuing CA: %w", err)
	}
	return k, nil
}

func keyMatches(key crypto.Signer, cert *pki.Certificate) error {
	a, err1 := pki.MarshalPublicKey(key.Public())
	b, err2 := pki.MarshalPublicKey(cert.PublicKey)
	if err1 != nil || err2 != nil || string(a) != string(b) {
		return errors.New("different public keys")
	}
	alg, err := pki.DefaultSignatureAlgorithm(cert.PublicKey)
	if err != nil {
		return err
	}
	msg := []byte("gostkey-ca start-up key check")
	sig, err := pki.Sign(rand.Reader, key, alg, msg)
	if err != nil {
		return err
	}
	return pki.CheckSignature(alg, msg, sig, cert.PublicKey)
}

func readCert(path string) (*pki.Certificate, error) {
	cs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

func readCerts(path string) ([]*pki.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cs, err := pki.ParseCertificates(b)
	if err != nil || len(cs) == 0 {
		return nil, fmt.Errorf("%s: no certificate: %v", path, err)
	}
	return cs, nil
}

func pemEncode(ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	return out
}

// checkpointOpts are what audit checkpoints are signed and verified with:
// the issuing CA's key (GOST 256, Streebog-256).
var checkpointOpts = &gost.SignerOpts{Hash: gost.Streebog256}

func keyID(cert *pki.Certificate) []byte {
	h := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return h[:]
}
