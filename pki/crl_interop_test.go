package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/internal/testkit"
)

// revInteropFlips is about how many bytes the interop tests tamper with in
// each object; the unit tests flip every byte.
const revInteropFlips = 48

// TestRevocationOpenSSL checks CRLs and OCSP both ways against OpenSSL with
// the gost engine, on every key type of revKeySpecs: what we make OpenSSL
// accepts and reads as we meant it, and what OpenSSL makes we parse and
// verify.
func TestRevocationOpenSSL(t *testing.T) {
	testkit.RequireOpenSSL(t)
	for _, spec := range revKeySpecs {
		t.Run(spec.name, func(t *testing.T) {
			t.Parallel()
			p := newRevPKI(t, spec)
			t.Run("OurCRL", func(t *testing.T) { testOurCRL(t, p, spec.full) })
			t.Run("OpenSSLCRL", func(t *testing.T) { testOpenSSLCRL(t, p, spec.full) })
			t.Run("OpenSSLRequest", func(t *testing.T) { testOpenSSLRequest(t, p, spec) })
			t.Run("OurResponse", func(t *testing.T) { testOurResponse(t, p, spec) })
			t.Run("OpenSSLResponder", func(t *testing.T) { testOpenSSLResponder(t, p, spec) })
			t.Run("QueryOpenSSLResponder", func(t *testing.T) { testQueryOpenSSLResponder(t, p, spec) })
		})
	}
}

func testOurCRL(t *testing.T, p *revPKI, full bool) {
	now := time.Now()
	revokedAt := now.Add(-2 * time.Hour)
	tmpl := &CRLTemplate{
		Number: big.NewInt(42), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(24 * time.Hour),
		RevokedCertificates: []RevokedCertificate{
			{SerialNumber: p.revoked.cert.SerialNumber, RevocationTime: revokedAt, ReasonCode: ReasonKeyCompromise, InvalidityDate: revCompromiseTime},
			{SerialNumber: big.NewInt(0x1002), RevocationTime: revokedAt, ReasonCode: ReasonSuperseded},
			{SerialNumber: big.NewInt(0x77), RevocationTime: revokedAt, ReasonCode: ReasonCertificateHold},
			{SerialNumber: big.NewInt(0x78), RevocationTime: revokedAt},
		},
	}
	der, err := CreateCRL(rand.Reader, tmpl, p.ca, p.caSigner)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(p.ca); err != nil {
		t.Fatal(err)
	}
	revCheckCRL(t, crl, tmpl, p.ca)

	crlPath := revPEMFile(t, p.dir, "ours.crl.pem", "X509 CRL", der)
	out, err := revOpenSSLCombined(t, "crl", "-in", crlPath, "-CAfile", p.caPath, "-noout", "-verify", "-text")
	if err != nil {
		t.Fatalf("openssl crl: %v: %s", err, out)
	}
	revMustContain(t, "openssl crl -verify -text", out, "verify OK", "X509v3 CRL Number", "X509v3 Authority Key Identifier",
		"Serial Number: 1001", "Key Compromise", "Invalidity Date", "Jan  2 03:04:05 2026 GMT",
		"Serial Number: 1002", "Superseded", "Serial Number: 77", "Certificate Hold", "Serial Number: 78")

	// The chain check sees the revoked certificate as revoked, and the
	// good one as good: OpenSSL verified the CRL signature to get there.
	out, err = revOpenSSLCombined(t, "verify", "-crl_check", "-CRLfile", crlPath, "-CAfile", p.caPath, p.good.path, p.revoked.path)
	if err == nil {
		t.Error("openssl verify -crl_check passed a revoked certificate")
	}
	revMustContain(t, "openssl verify -crl_check", out, p.good.path+": OK", "certificate revoked", p.revoked.path+": verification failed")
	if strings.Contains(out, p.good.path+": verification failed") {
		t.Errorf("openssl verify -crl_check failed the good certificate:\n%s", out)
	}
	if !full {
		return
	}

	delta := &CRLTemplate{
		Number: big.NewInt(43), BaseCRLNumber: big.NewInt(42), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour),
		RevokedCertificates: []RevokedCertificate{{SerialNumber: big.NewInt(0x77), RevocationTime: now.Add(-time.Hour), ReasonCode: ReasonRemoveFromCRL}},
	}
	der, err = CreateCRL(rand.Reader, delta, p.ca, p.caSigner)
	if err != nil {
		t.Fatal(err)
	}
	out, err = revOpenSSLCombined(t, "crl", "-in", revPEMFile(t, p.dir, "delta.crl.pem", "X509 CRL", der), "-CAfile", p.caPath, "-noout", "-verify", "-text")
	if err != nil {
		t.Fatalf("openssl crl: %v: %s", err, out)
	}
	revMustContain(t, "openssl crl of a delta CRL", out, "verify OK", "X509v3 Delta CRL Indicator: critical", "Remove From CRL")
}

func testOpenSSLCRL(t *testing.T, p *revPKI, full bool) {
	crlPath := filepath.Join(p.dir, "openssl.crl.pem")
	testkit.OpenSSL(t, nil, "ca", "-config", p.configPath, "-gencrl", "-out", crlPath)
	data, err := os.ReadFile(crlPath)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(p.ca); err != nil {
		t.Fatal(err)
	}
	if crl.SignatureAlgorithm != p.ca.SignatureAlgorithm {
		t.Errorf("signature algorithm %v, want the CA's %v", crl.SignatureAlgorithm, p.ca.SignatureAlgorithm)
	}
	if crl.Number == nil || crl.Number.Int64() != 0x1000 || !bytes.Equal(crl.AuthorityKeyId, p.ca.SubjectKeyId) || crl.BaseCRLNumber != nil {
		t.Errorf("number %v, AKI %x (CA SKI %x), base %v", crl.Number, crl.AuthorityKeyId, p.ca.SubjectKeyId, crl.BaseCRLNumber)
	}
	if !revAbout(crl.NextUpdate.Sub(crl.ThisUpdate), 7*24*time.Hour) {
		t.Errorf("thisUpdate %v nextUpdate %v, want 7 days apart", crl.ThisUpdate, crl.NextUpdate)
	}
	if rc, ok := crl.Lookup(p.revoked.cert.SerialNumber); !ok || rc.ReasonCode != ReasonKeyCompromise || !rc.InvalidityDate.Equal(revCompromiseTime) ||
		time.Since(rc.RevocationTime) > time.Hour {
		t.Errorf("revoked entry %+v", rc)
	}
	if _, ok := crl.Lookup(p.good.cert.SerialNumber); ok {
		t.Error("the good certificate is listed")
	}
	if err := crl.CheckSignatureFrom(p.good.cert); err == nil {
		t.Error("CRL verified with a leaf as its issuer")
	}
	var re *RevokedError
	if err := crl.CheckCertificate(p.revoked.cert, p.ca); !errors.As(err, &re) || re.Reason != ReasonKeyCompromise {
		t.Errorf("CheckCertificate(revoked): %v", err)
	}
	if err := crl.CheckCertificate(p.good.cert, p.ca); err != nil {
		t.Errorf("CheckCertificate(good): %v", err)
	}
	if !full {
		if len(crl.RevokedCertificates) != 1 {
			t.Errorf("%d entries, want 1", len(crl.RevokedCertificates))
		}
		return
	}
	if len(crl.RevokedCertificates) != 2 {
		t.Fatalf("%d entries, want 2", len(crl.RevokedCertificates))
	}
	if rc, ok := crl.Lookup(p.superseded.cert.SerialNumber); !ok || rc.ReasonCode != ReasonSuperseded || !rc.InvalidityDate.IsZero() {
		t.Errorf("superseded entry %+v", rc)
	}
	if err := crl.CheckCertificate(p.superseded.cert, p.ca); !errors.As(err, &re) || re.Reason != ReasonSuperseded {
		t.Errorf("CheckCertificate(superseded): %v", err)
	}
	var desc strings.Builder
	if err := crl.Describe(&desc); err != nil {
		t.Fatal(err)
	}
	revMustContain(t, "Describe", desc.String(), "Номер СОС (CRL number): 4096", "Серийный номер (Serial number): 1001",
		"Причина (Reason): компрометация ключа (keyCompromise)", "Дата компрометации (Invalidity date): 2026-01-02 03:04:05 UTC",
		"Серийный номер (Serial number): 1002", "Причина (Reason): сертификат заменён (superseded)")
	revTamper(t, crl.Raw, len(crl.Raw)/revInteropFlips+1, func(b []byte) error {
		c, err := ParseCRL(b)
		if err != nil {
			return err
		}
		return c.CheckSignatureFrom(p.ca)
	})

	deltaPath := filepath.Join(p.dir, "openssl-delta.crl.pem")
	testkit.OpenSSL(t, nil, "ca", "-config", p.configPath, "-gencrl", "-crlexts", "delta_ext", "-out", deltaPath)
	if data, err = os.ReadFile(deltaPath); err != nil {
		t.Fatal(err)
	}
	delta, err := ParseCRL(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := delta.CheckSignatureFrom(p.ca); err != nil {
		t.Fatal(err)
	}
	if delta.Number.Int64() != 0x1001 || delta.BaseCRLNumber == nil || delta.BaseCRLNumber.Int64() != 0x0fff {
		t.Errorf("delta CRL number %v, base %v", delta.Number, delta.BaseCRLNumber)
	}
	if idp := delta.IssuingDistributionPoint; idp == nil || len(idp.URIs) != 1 || idp.URIs[0] != "http://ca.test/revocation.crl" {
		t.Errorf("issuing distribution point %+v", idp)
	}
	// A delta CRL settles what it lists, and nothing else alone.
	if err := delta.CheckCertificate(p.revoked.cert, p.ca); !errors.As(err, &re) {
		t.Errorf("delta CRL, revoked certificate: %v", err)
	}
	if err := delta.CheckCertificate(p.good.cert, p.ca); err == nil || errors.As(err, &re) {
		t.Errorf("delta CRL, unlisted certificate: %v", err)
	}
}

func testOpenSSLRequest(t *testing.T, p *revPKI, spec revKeySpec) {
	// openssl ocsp applies the digest flag seen last to each -cert.
	type certID struct {
		md   string
		hash CertIDHash
		cert *revIssued
	}
	tests := []struct {
		name  string
		ids   []certID
		nonce bool
	}{
		{"sha1 and " + spec.ocspMD, []certID{{"-sha1", CertIDSHA1, p.good}, {spec.ocspMD, spec.ocspHash, p.revoked}}, true},
	}
	if spec.full {
		tests = append(tests, struct {
			name  string
			ids   []certID
			nonce bool
		}{"default hash, no nonce", []certID{{"", CertIDSHA1, p.revoked}}, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqPath := filepath.Join(t.TempDir(), "req.der")
			args := []string{"ocsp", "-issuer", p.caPath}
			if !tt.nonce {
				args = append(args, "-no_nonce")
			}
			for _, id := range tt.ids {
				if id.md != "" {
					args = append(args, id.md)
				}
				args = append(args, "-cert", id.cert.path)
			}
			testkit.OpenSSL(t, nil, append(args, "-reqout", reqPath)...)
			der, err := os.ReadFile(reqPath)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseOCSPRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if len(req.CertIDs) != len(tt.ids) {
				t.Fatalf("%d CertIDs, want %d", len(req.CertIDs), len(tt.ids))
			}
			for i, id := range tt.ids {
				want, err := NewOCSPCertID(id.hash, p.ca, id.cert.cert.SerialNumber)
				if err != nil {
					t.Fatal(err)
				}
				if !req.CertIDs[i].Equal(want) || !req.CertIDs[i].MatchesIssuer(p.ca) {
					t.Errorf("CertID %d = %+v, want %+v", i, req.CertIDs[i], want)
				}
			}
			if tt.nonce != (len(req.Nonce) == 16) {
				t.Errorf("nonce %x", req.Nonce)
			}
		})
	}
}

func testOurResponse(t *testing.T, p *revPKI, spec revKeySpec) {
	now := time.Now()
	revokedAt := now.Add(-3 * time.Hour).UTC().Truncate(time.Second)
	singles := func() []OCSPSingleResponse {
		id := func(c *revIssued) OCSPCertID {
			return OCSPCertID{Hash: spec.ocspHash, SerialNumber: c.cert.SerialNumber}
		}
		return []OCSPSingleResponse{
			{CertID: id(p.revoked), Status: OCSPRevoked, RevokedAt: revokedAt, RevocationReason: ReasonKeyCompromise,
				ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)},
			{CertID: id(p.good), Status: OCSPGood, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)},
			{CertID: id(p.responder), Status: OCSPUnknown, ThisUpdate: now.Add(-time.Minute)},
		}
	}
	tests := []struct {
		name       string
		responder  *revIssued
		byKey      bool
		sendCA     bool
		verifyArgs []string
	}{
		{"CA, -VAfile", nil, false, false, []string{"-VAfile", p.caPath}},
		{"delegated", p.responder, false, false, []string{"-CAfile", p.caPath}},
		{"CA by key, sends its certificate", nil, true, true, []string{"-CAfile", p.caPath}},
		{"delegated by key, -verify_other", p.responder, true, false, []string{"-CAfile", p.caPath, "-verify_other", p.responder.path}},
		{"delegated, -VAfile", p.responder, false, false, []string{"-VAfile", p.responder.path}},
	}
	if !spec.full {
		tests = tests[:2]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := &OCSPResponseTemplate{ProducedAt: now, Responses: singles(), ResponderIDByKey: tt.byKey, Nonce: []byte("nonce")}
			var responderCert *Certificate
			signer := p.caSigner
			if tt.responder != nil {
				responderCert, signer = tt.responder.cert, p.leafSigner
			}
			if tt.sendCA {
				tmpl.Certificates = []*Certificate{p.ca}
			}
			der, err := CreateOCSPResponse(rand.Reader, tmpl, p.ca, responderCert, signer)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseOCSPResponse(der, p.ca); err != nil {
				t.Fatal(err)
			}
			respPath := revDERFile(t, t.TempDir(), "resp.der", der)
			args := append([]string{"ocsp", "-respin", respPath, "-no_nonce"}, tt.verifyArgs...)
			args = append(args, "-issuer", p.caPath, spec.ocspMD, "-cert", p.revoked.path, "-cert", p.good.path, "-cert", p.responder.path)
			out, err := revOpenSSLCombined(t, args...)
			if err != nil {
				t.Fatalf("openssl ocsp -respin: %v: %s", err, out)
			}
			revMustContain(t, "openssl ocsp -respin", out, "Response verify OK",
				p.revoked.path+": revoked", "Reason: keyCompromise", p.good.path+": good", p.responder.path+": unknown")
			if spec.full && tt.responder == nil && !tt.sendCA {
				revTamper(t, der, len(der)/revInteropFlips+1, func(b []byte) error {
					_, err := ParseOCSPResponse(b, p.ca)
					return err
				})
			}
		})
	}
}

func testOpenSSLResponder(t *testing.T, p *revPKI, spec revKeySpec) {
	unknown := *p.good.cert
	unknown.SerialNumber = big.NewInt(0x9999)
	tests := []struct {
		name      string
		cert      *Certificate
		rsigner   string
		rkey      string
		extra     []string
		want      OCSPStatus
		wantCerts int
	}{
		{"revoked", p.revoked.cert, p.caPath, p.caKeyPath, nil, OCSPRevoked, 1},
		{"good", p.good.cert, p.caPath, p.caKeyPath, nil, OCSPGood, 1},
		{"unknown", &unknown, p.caPath, p.caKeyPath, nil, OCSPUnknown, 1},
		{"delegated, revoked", p.revoked.cert, p.responder.path, p.leafKeyPath, nil, OCSPRevoked, 1},
		{"by key id, without certificates", p.good.cert, p.caPath, p.caKeyPath, []string{"-resp_key_id", "-resp_no_certs"}, OCSPGood, 0},
	}
	if !spec.full {
		tests = tests[:1]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nonce := []byte(tt.name)[:5]
			req, err := CreateOCSPRequest(tt.cert, p.ca, &OCSPRequestOptions{Hash: spec.ocspHash, Nonce: nonce})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			respPath := filepath.Join(dir, "resp.der")
			args := []string{"ocsp", "-index", filepath.Join(p.dir, "index.txt"), "-CA", p.caPath, "-rsigner", tt.rsigner, "-rkey", tt.rkey,
				"-reqin", revDERFile(t, dir, "req.der", req), "-respout", respPath, "-ndays", "1"}
			testkit.OpenSSL(t, nil, append(args, tt.extra...)...)
			der, err := os.ReadFile(respPath)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseOCSPResponse(der, p.ca)
			if err != nil {
				t.Fatal(err)
			}
			sr, ok := r.Lookup(tt.cert.SerialNumber)
			if !ok || sr.Status != tt.want || sr.CertID.Hash != spec.ocspHash || !bytes.Equal(r.Nonce, nonce) || len(r.Certificates) != tt.wantCerts {
				t.Fatalf("status %v (want %v), hash %v, nonce %q, %d certificates", sr.Status, tt.want, sr.CertID.Hash, r.Nonce, len(r.Certificates))
			}
			var re *RevokedError
			switch err := r.CheckCertificate(tt.cert); tt.want {
			case OCSPGood:
				if err != nil {
					t.Errorf("CheckCertificate: %v", err)
				}
			case OCSPRevoked:
				if !errors.As(err, &re) || re.Reason != ReasonKeyCompromise {
					t.Errorf("CheckCertificate: %v", err)
				}
			case OCSPUnknown:
				if !errors.Is(err, ErrOCSPUnknownCertificate) {
					t.Errorf("CheckCertificate: %v", err)
				}
			}
			if !revAbout(sr.NextUpdate.Sub(sr.ThisUpdate), 24*time.Hour) {
				t.Errorf("thisUpdate %v nextUpdate %v", sr.ThisUpdate, sr.NextUpdate)
			}
			if tt.want == OCSPRevoked && (sr.RevocationReason != ReasonKeyCompromise || time.Since(sr.RevokedAt) > time.Hour) {
				t.Errorf("revoked at %v for %v", sr.RevokedAt, sr.RevocationReason)
			}
			if !spec.full {
				return
			}
			// Every signed byte counts.
			at := bytes.Index(der, r.RawTBSResponseData)
			revTamper(t, der[at:at+len(r.RawTBSResponseData)], len(r.RawTBSResponseData)/revInteropFlips+1, func(b []byte) error {
				_, err := ParseOCSPResponse(append(append(bytes.Clone(der[:at]), b...), der[at+len(b):]...), p.ca)
				return err
			})
		})
	}
}

// testQueryOpenSSLResponder serves OpenSSL's responder, signing as the
// delegated responder, over HTTP to QueryOCSP.
func testQueryOpenSSLResponder(t *testing.T, p *revPKI, spec revKeySpec) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dir := t.TempDir()
		req, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get("Content-Type") != "application/ocsp-request" {
			http.Error(w, fmt.Sprint("bad request ", err), http.StatusBadRequest)
			return
		}
		respPath := filepath.Join(dir, "resp.der")
		if _, err := testkit.TryOpenSSL(t, nil, "ocsp", "-index", filepath.Join(p.dir, "index.txt"), "-CA", p.caPath,
			"-rsigner", p.responder.path, "-rkey", p.leafKeyPath, "-reqin", revDERFile(t, dir, "req.der", req),
			"-respout", respPath, "-nmin", "5"); err != nil {
			t.Error(err)
			http.Error(w, "openssl failed", http.StatusInternalServerError)
			return
		}
		http.ServeFile(w, r, respPath)
	}))
	defer srv.Close()
	r, err := QueryOCSP(context.Background(), srv.URL, p.revoked.cert, p.ca, spec.ocspHash)
	if err != nil {
		t.Fatal(err)
	}
	if sr, _ := r.Lookup(p.revoked.cert.SerialNumber); sr.Status != OCSPRevoked || sr.RevocationReason != ReasonKeyCompromise || len(r.Nonce) != 16 {
		t.Errorf("status %v reason %v nonce %x", sr.Status, sr.RevocationReason, r.Nonce)
	}
}

// revAbout compares an interval openssl wrote with the one asked for:
// openssl reads the clock separately for the start and the end, so a
// second may tick in between.
func revAbout(got, want time.Duration) bool {
	return got >= want && got <= want+2*time.Second
}
