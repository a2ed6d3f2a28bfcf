package cms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

func makeCRL(t *testing.T, id *identity, revoked ...pki.RevokedCertificate) *pki.CRL {
	t.Helper()
	now := time.Now()
	return makeCRLAt(t, id, now.Add(-time.Hour), now.Add(24*time.Hour), revoked...)
}

func makeCRLAt(t *testing.T, id *identity, thisUpdate, nextUpdate time.Time, revoked ...pki.RevokedCertificate) *pki.CRL {
	t.Helper()
	der, err := pki.CreateCRL(rand.Reader, &pki.CRLTemplate{Number: big.NewInt(1), ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate, RevokedCertificates: revoked}, id.root, id.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := pki.ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// TestRevocation: CRLs signed by the signer's CA, and OCSP answers (through
// VerifyOptions.OCSPQuery), decide the signer certificate's status.
func TestRevocation(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	other := newIdentity(t, "gost512-A")
	signedAt := time.Now().Truncate(time.Second)
	sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, &SignOptions{SigningTime: signedAt})
	if err != nil {
		t.Fatal(err)
	}
	revoked := func(reason pki.CRLReason, at time.Time) pki.RevokedCertificate {
		return pki.RevokedCertificate{SerialNumber: id.cert.SerialNumber, RevocationTime: at, ReasonCode: reason}
	}
	ocsp := func(status pki.OCSPStatus, reason pki.CRLReason, at time.Time, err error) OCSPQuery {
		return func(_ context.Context, url string, cert, issuer *pki.Certificate) (*pki.OCSPResponse, error) {
			if url != "http://127.0.0.1:9/ocsp" || !bytes.Equal(issuer.Raw, id.root.Raw) {
				t.Errorf("OCSP query to %s about the wrong issuer", url)
			}
			if err != nil {
				return nil, err
			}
			return &pki.OCSPResponse{Responses: []pki.OCSPSingleResponse{{
				CertID: pki.OCSPCertID{SerialNumber: cert.SerialNumber}, Status: status, RevokedAt: at, RevocationReason: reason, ThisUpdate: time.Now()}}}, nil
		}
	}
	before, after := signedAt.Add(-time.Hour), signedAt.Add(30*time.Second)
	now := time.Now()
	expired := makeCRLAt(t, id, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	future := makeCRLAt(t, id, now.Add(time.Hour), now.Add(48*time.Hour))
	for _, tc := range []struct {
		name string
		opts VerifyOptions
		want Reason
	}{
		{"CRL without the certificate", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, id)}}, 0},
		{"CRL: key compromise", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, id, revoked(pki.ReasonKeyCompromise, after))}}, Revoked},
		{"CRL: superseded before signing", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, id, revoked(pki.ReasonSuperseded, before))}}, Revoked},
		// Checked now, every revocation counts, whatever the signer claims.
		{"CRL: superseded after the claimed signing time", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, id, revoked(pki.ReasonSuperseded, after))}}, Revoked},
		{"CRL: superseded after an asserted time", VerifyOptions{CurrentTime: signedAt, CRLs: []*pki.CRL{makeCRL(t, id, revoked(pki.ReasonSuperseded, after))}}, 0},
		{"expired CRL without the certificate", VerifyOptions{CRLs: []*pki.CRL{expired}}, RevocationUnknown},
		{"CRL not yet issued", VerifyOptions{CRLs: []*pki.CRL{future}}, RevocationUnknown},
		{"expired CRL, current CRL", VerifyOptions{CRLs: []*pki.CRL{expired, makeCRL(t, id)}}, 0},
		{"expired CRL with the revocation", VerifyOptions{CRLs: []*pki.CRL{makeCRLAt(t, id, now.Add(-48*time.Hour), now.Add(-24*time.Hour),
			revoked(pki.ReasonKeyCompromise, before))}}, Revoked},
		{"CRL of another CA only", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, other, revoked(pki.ReasonKeyCompromise, before))}}, RevocationUnknown},
		{"OCSP good", VerifyOptions{OCSP: true, OCSPQuery: ocsp(pki.OCSPGood, 0, time.Time{}, nil)}, 0},
		{"OCSP revoked", VerifyOptions{OCSP: true, OCSPQuery: ocsp(pki.OCSPRevoked, pki.ReasonKeyCompromise, after, nil)}, Revoked},
		{"OCSP unknown", VerifyOptions{OCSP: true, OCSPQuery: ocsp(pki.OCSPUnknown, 0, time.Time{}, nil)}, RevocationUnknown},
		{"OCSP unreachable", VerifyOptions{OCSP: true, OCSPQuery: ocsp(0, 0, time.Time{}, errors.New("connection refused"))}, RevocationUnknown},
		{"CRL settles before OCSP", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, id)}, OCSP: true, OCSPQuery: ocsp(pki.OCSPUnknown, 0, time.Time{}, nil)}, 0},
		{"revocation without chain", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, id)}, SkipChainVerification: true}, RevocationUnknown},
	} {
		opts := tc.opts
		if !opts.SkipChainVerification {
			opts.Roots = []*pki.Certificate{id.root}
		}
		_, err := Verify(sig, nil, &opts)
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestRevocationOCSPResponder: the default query path (pki.QueryOCSP) against
// a responder on loopback that signs with the CA key: good, then revoked.
func TestRevocationOCSPResponder(t *testing.T) {
	id := newIdentity(t, "gost512-C")
	sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	var status atomic.Int32 // a pki.OCSPStatus, set by the test, read by the handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := pki.ReadOCSPHTTPRequest(r, "/")
		if err != nil || len(req.CertIDs) != 1 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		now := time.Now()
		sr := pki.OCSPSingleResponse{CertID: req.CertIDs[0], Status: pki.OCSPStatus(status.Load()), ThisUpdate: now.Add(-time.Minute)}
		if sr.Status == pki.OCSPRevoked {
			sr.RevokedAt, sr.RevocationReason = now.Add(-time.Hour), pki.ReasonKeyCompromise
		}
		der, err := pki.CreateOCSPResponse(rand.Reader, &pki.OCSPResponseTemplate{ProducedAt: now, Responses: []pki.OCSPSingleResponse{sr}, Nonce: req.Nonce}, id.root, id.root, id.rootKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	}))
	defer srv.Close()
	// The certificate names a responder nobody listens on; send its
	// queries to the test server instead, through the default client.
	query := func(ctx context.Context, url string, cert, issuer *pki.Certificate) (*pki.OCSPResponse, error) {
		return defaultOCSPQuery(ctx, srv.URL+"/", cert, issuer)
	}
	for _, tc := range []struct {
		status pki.OCSPStatus
		want   Reason
	}{{pki.OCSPGood, 0}, {pki.OCSPRevoked, Revoked}, {pki.OCSPUnknown, RevocationUnknown}} {
		status.Store(int32(tc.status))
		_, err := Verify(sig, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, OCSP: true, OCSPQuery: query})
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%v: got %v (%v), want %v", tc.status, got, err, tc.want)
		}
	}
}

// TestRevocationCRLFetch: with OCSP and CRLFetch, a certificate naming no
// OCSP responder is settled by the CRL at its distribution point, as a
// relying party settles a CA certificate with its root's CRL.
func TestRevocationCRLFetch(t *testing.T) {
	id := newIdentity(t, "gost256-A")
	key, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const dp = "http://127.0.0.1:9/crl/root.crl"
	der, err := pki.CreateCertificate(rand.Reader, &pki.Certificate{SerialNumber: big.NewInt(4242),
		Subject: pki.Name{CommonName: "cms CRL DP signer"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, CRLDistributionPoints: []string{dp}},
		id.root, key.Public(), id.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(bytes.NewReader(testContent), key, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(crl *pki.CRL, err error) CRLFetch {
		return func(_ context.Context, url string) (*pki.CRL, error) {
			if url != dp {
				t.Errorf("CRL fetched from %s; want %s", url, dp)
			}
			return crl, err
		}
	}
	other := newIdentity(t, "gost512-A")
	now := time.Now()
	for _, tc := range []struct {
		name string
		opts VerifyOptions
		want Reason
	}{
		{"no fetcher", VerifyOptions{OCSP: true}, RevocationUnknown},
		{"fetched CRL without the certificate", VerifyOptions{OCSP: true, CRLFetch: fetch(makeCRL(t, id), nil)}, 0},
		{"fetched CRL revokes", VerifyOptions{OCSP: true, CRLFetch: fetch(makeCRL(t, id,
			pki.RevokedCertificate{SerialNumber: cert.SerialNumber, RevocationTime: now.Add(-time.Minute), ReasonCode: pki.ReasonKeyCompromise}), nil)}, Revoked},
		{"fetched CRL expired", VerifyOptions{OCSP: true, CRLFetch: fetch(makeCRLAt(t, id, now.Add(-48*time.Hour), now.Add(-24*time.Hour)), nil)}, RevocationUnknown},
		{"fetched CRL of another issuer", VerifyOptions{OCSP: true, CRLFetch: fetch(makeCRL(t, other), nil)}, RevocationUnknown},
		{"fetch fails", VerifyOptions{OCSP: true, CRLFetch: fetch(nil, errors.New("connection refused"))}, RevocationUnknown},
		// Without OCSP nothing is fetched: CRLs are the caller's.
		{"no OCSP, no CRL", VerifyOptions{CRLs: []*pki.CRL{makeCRL(t, other)}, CRLFetch: fetch(makeCRL(t, id), nil)}, RevocationUnknown},
	} {
		opts := tc.opts
		opts.Roots = []*pki.Certificate{id.root}
		_, err := Verify(sig, nil, &opts)
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}
