package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// IssuerConfig is the certificate profile.
type IssuerConfig struct {
	// Validity of a leaf; default 365 days.
	Validity time.Duration
	// PublicHTTPURL is the plain-HTTP publication base
	// (http://host:port): CRL DP <url>/crl/issuing.crl, AIA OCSP <url>/ocsp,
	// caIssuers <url>/ca/issuing.crt.
	PublicHTTPURL string
	// SubjectSignTool names the holder's signing tool (subjectSignTool).
	SubjectSignTool string
	// IssuerSignTool names the tools and their certificates of conformity.
	IssuerSignTool pki.IssuerSignTool
	// Policies are the certificate policies; default КС1.
	Policies []asn1.ObjectIdentifier
}

// DefaultValidity is a state-key certificate's lifetime.
const DefaultValidity = 365 * 24 * time.Hour

// IssuerDeps are what an Issuer works with.
type IssuerDeps struct {
	Store   store.Store
	Journal *audit.Journal
	// Signer is the issuing CA's key (a token key in production); Cert its
	// certificate.
	Signer crypto.Signer
	Cert   *pki.Certificate
	Now    func() time.Time
	Rand   io.Reader // serials; nil: crypto/rand
}

// Issuer turns a registered identity and a public key into a stored,
// audited certificate: prepare, lint, audit the intent, sign outside any
// transaction, store and audit the result.
type Issuer struct {
	cfg IssuerConfig
	d   IssuerDeps
}

// NewIssuer checks the profile against the CA certificate and key.
func NewIssuer(cfg IssuerConfig, d IssuerDeps) (*Issuer, error) {
	if d.Store == nil || d.Journal == nil || d.Signer == nil || d.Cert == nil || d.Now == nil {
		return nil, errors.New("ca: NewIssuer needs a store, a journal, a signer, the CA certificate and a clock")
	}
	if cfg.Validity == 0 {
		cfg.Validity = DefaultValidity
	}
	if cfg.Validity < 0 {
		return nil, errors.New("ca: negative validity")
	}
	if len(cfg.Policies) == 0 {
		cfg.Policies = []asn1.ObjectIdentifier{pki.OIDPolicyKC1}
	}
	u, err := url.Parse(cfg.PublicHTTPURL)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ca: public HTTP URL %q: want http://host[:port]", cfg.PublicHTTPURL)
	}
	cfg.PublicHTTPURL = strings.TrimRight(cfg.PublicHTTPURL, "/")
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if !publicKeysEqual(d.Signer.Public(), d.Cert.PublicKey) {
		return nil, errors.New("ca: the issuing key does not match the issuing CA certificate")
	}
	return &Issuer{cfg: cfg, d: d}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	x, err1 := pki.MarshalPublicKey(a)
	y, err2 := pki.MarshalPublicKey(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// Cert is the issuing CA certificate.
func (is *Issuer) Cert() *pki.Certificate { return is.d.Cert }

// Validity is the configured leaf lifetime.
func (is *Issuer) Validity() time.Duration { return is.cfg.Validity }

// Prepare builds the certificate template for id and pub, valid from now:
// the subject from the registered identity only, the qualified profile's
// extensions, and serial as given (nil: a placeholder, for linting).
func (is *Issuer) Prepare(id store.Identity, pub crypto.PublicKey, serial *big.Int, now time.Time) *pki.Certificate {
	nb := now.UTC().Truncate(time.Second)
	na := nb.Add(is.cfg.Validity)
	if serial == nil {
		serial = big.NewInt(1)
	}
	return &pki.Certificate{
		SerialNumber:             serial,
		Subject:                  SubjectName(id),
		NotBefore:                nb,
		NotAfter:                 na,
		PublicKey:                pub,
		KeyUsage:                 x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:              []asn1.ObjectIdentifier{pki.OIDExtKeyUsageClientAuth, pki.OIDExtKeyUsageEmailProtection},
		BasicConstraintsValid:    true,
		MaxPathLen:               -1,
		CRLDistributionPoints:    []string{is.cfg.PublicHTTPURL + "/crl/issuing.crl"},
		OCSPServer:               []string{is.cfg.PublicHTTPURL + "/ocsp"},
		IssuingCertificateURL:    []string{is.cfg.PublicHTTPURL + "/ca/issuing.crt"},
		PolicyIdentifiers:        is.cfg.Policies,
		SubjectSignTool:          is.cfg.SubjectSignTool,
		IssuerSignTool:           &is.cfg.IssuerSignTool,
		PrivateKeyUsageNotBefore: nb,
		PrivateKeyUsageNotAfter:  na,
	}
}

// Lint checks a template or a signed certificate against the profile: the
// qualified-profile checks of pki, the key usages, and a validity inside
// the issuing CA's.
func (is *Issuer) Lint(c *pki.Certificate) error {
	var errs []error
	if err := pki.CheckQualifiedProfile(c); err != nil {
		errs = append(errs, err)
	}
	if c.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		errs = append(errs, errors.New("keyUsage: nonRepudiation missing"))
	}
	if c.IsCA {
		errs = append(errs, errors.New("basicConstraints: a leaf must not be a CA"))
	}
	if c.NotBefore.Before(is.d.Cert.NotBefore) || c.NotAfter.After(is.d.Cert.NotAfter) {
		errs = append(errs, errors.New("validity: outside the issuing CA certificate's validity"))
	}
	if len(c.CRLDistributionPoints) == 0 || len(c.OCSPServer) == 0 || len(c.IssuingCertificateURL) == 0 {
		errs = append(errs, errors.New("CRL DP or AIA missing"))
	}
	return errors.Join(errs...)
}

// IssueRequest is one certificate to issue.
type IssueRequest struct {
	Identity  store.Identity
	PublicKey crypto.PublicKey
	OrderID   string        // the enrollment order, if any
	Renews    *store.Serial // the predecessor, for a renewal
	Actor     string        // the audit actor
	// Reserve runs first in the intent transaction: redeem the order, spend
	// the proof. Its error aborts the issuance and is returned as is.
	Reserve func(ctx context.Context, tx store.Tx) error
	// Record runs in the result transaction after the certificate is
	// stored (link the predecessor).
	Record func(ctx context.Context, tx store.Tx, c *store.Certificate) error
}

// Issue runs the whole issuance. A key already certified is key_certified
// (*Error, KindConflict). The certificate is returned once stored.
func (is *Issuer) Issue(ctx context.Context, req IssueRequest) (*store.Certificate, error) {
	spkiHash, err := SPKIHash(req.PublicKey)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "key_not_allowed", Message: "the key cannot be encoded", Err: err}
	}
	now := is.d.Now()
	if err := is.Lint(is.Prepare(req.Identity, req.PublicKey, nil, now)); err != nil {
		return nil, fmt.Errorf("ca: the prepared certificate fails the profile: %w", err)
	}
	var serial store.Serial
	err = is.d.Store.Tx(ctx, func(tx store.Tx) error {
		if req.Reserve != nil {
			if err := req.Reserve(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.CertificateBySPKIHash(ctx, spkiHash); err == nil {
			return keyCertified()
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var err error
		if serial, err = tx.AllocateSerial(ctx, is.d.Rand, now); err != nil {
			return err
		}
		_, err = is.d.Journal.Append(ctx, tx, audit.Entry{Actor: req.Actor, Action: "cert.intent", Object: serial.String(),
			Details: issueDetails(req, spkiHash, now.Add(is.cfg.Validity))})
		return err
	})
	if err != nil {
		return nil, err
	}

	tmpl := is.Prepare(req.Identity, req.PublicKey, new(big.Int).SetBytes(serial[:]), now)
	cert, err := is.sign(tmpl, req.PublicKey)
	if err != nil {
		// The intent stays audited; record that no certificate followed.
		if aerr := is.d.Store.Tx(ctx, func(tx store.Tx) error {
			_, err := is.d.Journal.Append(ctx, tx, audit.Entry{Actor: req.Actor, Action: "cert.fail", Object: serial.String(),
				Details: map[string]string{"error": "signing failed"}})
			return err
		}); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return nil, &Error{Kind: KindUnavailable, Code: "unavailable", Message: "the CA could not sign the certificate", Err: err}
	}
	sc := &store.Certificate{
		Serial: serial, OrderID: req.OrderID, Identity: req.Identity, SubjectDER: cert.RawSubject,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, DER: cert.Raw, SPKIHash: spkiHash,
		IssuedAt: now, Status: store.CertValid, PredecessorSerial: req.Renews,
	}
	err = is.d.Store.Tx(ctx, func(tx store.Tx) error {
		c := *sc
		if err := tx.InsertCertificate(ctx, &c); err != nil {
			return err
		}
		if req.Record != nil {
			if err := req.Record(ctx, tx, &c); err != nil {
				return err
			}
		}
		_, err := is.d.Journal.Append(ctx, tx, audit.Entry{Actor: req.Actor, Action: "cert.issue", Object: serial.String(),
			Details: issueDetails(req, spkiHash, cert.NotAfter)})
		*sc = c
		return err
	})
	if errors.Is(err, store.ErrKeyCertified) {
		return nil, keyCertified()
	}
	if err != nil {
		return nil, err
	}
	return sc, nil
}

func keyCertified() *Error {
	return refuse(KindConflict, "key_certified", "this public key is already certified")
}

func issueDetails(req IssueRequest, spkiHash []byte, notAfter time.Time) map[string]string {
	d := map[string]string{"spki_sha256": hex.EncodeToString(spkiHash), "not_after": notAfter.UTC().Format(time.RFC3339)}
	if req.OrderID != "" {
		d["order"] = req.OrderID
	}
	if req.Renews != nil {
		d["renews"] = req.Renews.String()
	}
	return d
}

// sign signs tmpl and lints the result as parsed back.
func (is *Issuer) sign(tmpl *pki.Certificate, pub crypto.PublicKey) (*pki.Certificate, error) {
	der, err := pki.CreateCertificate(rand.Reader, tmpl, is.d.Cert, pub, is.d.Signer)
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := cert.CheckSignatureFrom(is.d.Cert); err != nil {
		return nil, err
	}
	if err := is.Lint(cert); err != nil {
		return nil, fmt.Errorf("ca: the signed certificate fails the profile: %w", err)
	}
	return cert, nil
}
