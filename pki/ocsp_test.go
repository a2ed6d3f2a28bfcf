package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCertIDHashNames(t *testing.T) {
	tests := []struct {
		h    CertIDHash
		name string
		oid  asn1.ObjectIdentifier
	}{
		{CertIDSHA1, "sha1", asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}},
		{CertIDSHA256, "sha256", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}},
		{CertIDSHA384, "sha384", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}},
		{CertIDSHA512, "sha512", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}},
		{CertIDStreebog256, "streebog256", asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 2}},
		{CertIDStreebog512, "streebog512", asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 3}},
	}
	for _, tt := range tests {
		if tt.h.String() != tt.name {
			t.Errorf("%d.String() = %q, want %q", int(tt.h), tt.h.String(), tt.name)
		}
		if h, err := ParseCertIDHash(tt.name); err != nil || h != tt.h {
			t.Errorf("ParseCertIDHash(%q) = %v, %v", tt.name, h, err)
		}
		if h, ok := ocspHashByOID(tt.oid); !ok || h != tt.h {
			t.Errorf("ocspHashByOID(%s) = %v, %v", tt.oid, h, ok)
		}
	}
	if _, err := ParseCertIDHash("md5"); err == nil {
		t.Error("md5 accepted")
	}
}

func TestOCSPCertID(t *testing.T) {
	ca := newRevGoCA(t, "CertID CA")
	other := newRevGoCA(t, "CertID CA")
	key, err := revSubjectPublicKey(ca.cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 65 || key[0] != 4 {
		t.Fatalf("P-256 subjectPublicKey contents = %x, want an uncompressed point", key)
	}
	name1, key1 := sha1.Sum(ca.cert.RawSubject), sha1.Sum(key)
	name256, key256 := sha256.Sum256(ca.cert.RawSubject), sha256.Sum256(key)
	tests := []struct {
		h          CertIDHash
		name, keyH []byte
	}{
		{CertIDSHA1, name1[:], key1[:]},
		{CertIDSHA256, name256[:], key256[:]},
	}
	for _, tt := range tests {
		id, err := NewOCSPCertID(tt.h, ca.cert, big.NewInt(42))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(id.IssuerNameHash, tt.name) || !bytes.Equal(id.IssuerKeyHash, tt.keyH) || id.SerialNumber.Int64() != 42 {
			t.Errorf("%v: CertID %x %x %v", tt.h, id.IssuerNameHash, id.IssuerKeyHash, id.SerialNumber)
		}
		if !id.MatchesIssuer(ca.cert) {
			t.Errorf("%v: CertID does not match its issuer", tt.h)
		}
		if id.MatchesIssuer(other.cert) {
			t.Errorf("%v: CertID matches a CA with the same name and another key", tt.h)
		}
	}
	if _, err := NewOCSPCertID(CertIDHash(99), ca.cert, big.NewInt(1)); err == nil {
		t.Error("unknown hash accepted")
	}
	if _, err := NewOCSPCertID(CertIDSHA1, ca.cert, nil); err == nil {
		t.Error("nil serial accepted")
	}
}

func TestOCSPRequestRoundTrip(t *testing.T) {
	ca := newRevGoCA(t, "Request CA")
	leaf, _ := ca.issue(t, 0x2a)
	nonce := bytes.Repeat([]byte{0xa5}, 16)
	for _, h := range []CertIDHash{CertIDSHA1, CertIDSHA256, CertIDStreebog256, CertIDStreebog512} {
		for _, n := range [][]byte{nil, nonce} {
			der, err := CreateOCSPRequest(leaf, ca.cert, &OCSPRequestOptions{Hash: h, Nonce: n})
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseOCSPRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := NewOCSPCertID(h, ca.cert, leaf.SerialNumber)
			if len(req.CertIDs) != 1 || !req.CertIDs[0].Equal(want) {
				t.Errorf("%v: CertIDs %+v, want %+v", h, req.CertIDs, want)
			}
			if !bytes.Equal(req.Nonce, n) || req.Signed {
				t.Errorf("%v: nonce %x signed %v", h, req.Nonce, req.Signed)
			}
			var desc strings.Builder
			if err := req.Describe(&desc); err != nil || !strings.Contains(desc.String(), "Серийный номер (Serial number): 2A\n    Хэш-функция (Hash): "+h.String()) {
				t.Errorf("Describe: %v\n%s", err, desc.String())
			}
		}
	}
	// The nonce extension holds a DER OCTET STRING (RFC 8954, OpenSSL).
	der, err := CreateOCSPRequest(leaf, ca.cert, &OCSPRequestOptions{Nonce: []byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a2163014301206092b060105050730010204050403010203"; !strings.Contains(hex.EncodeToString(der), want) {
		t.Errorf("request %x lacks nonce extension %s", der, want)
	}
	// A byte after the extensions inside their explicit [2] (lengths
	// patched to match) is not DER, although encoding/asn1 reads past it.
	at := bytes.Index(der, []byte{0xa2, 0x16})
	if der[1] >= 0x7f || der[3] >= 0x7f || at < 0 {
		t.Fatalf("request %x does not have the short-form layout this test patches", der)
	}
	padded := append(bytes.Clone(der), 0)
	padded[1]++
	padded[3]++
	padded[at+1]++
	if _, err := ParseOCSPRequest(padded); err == nil {
		t.Error("request with padding inside the explicit extensions tag accepted")
	}
	other := newRevGoCA(t, "Another CA")
	if _, err := CreateOCSPRequest(leaf, other.cert, nil); err == nil {
		t.Error("request with the wrong issuer accepted")
	}
	if _, err := CreateOCSPRequest(leaf, ca.cert, &OCSPRequestOptions{Nonce: make([]byte, 33)}); err == nil {
		t.Error("33-octet nonce accepted")
	}
}

func TestFindNonceRaw(t *testing.T) {
	exts := []pkix.Extension{{Id: OIDExtensionOCSPNonce, Value: []byte{0xde, 0xad, 0xbe, 0xef}}}
	if got := ocspFindNonce(exts); !bytes.Equal(got, []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Errorf("raw nonce = %x", got)
	}
}

func TestOCSPErrorResponses(t *testing.T) {
	tests := []struct {
		status OCSPResponseStatus
		name   string
		der    string
	}{
		{OCSPMalformedRequest, "malformedRequest", "30030a0101"},
		{OCSPInternalError, "internalError", "30030a0102"},
		{OCSPTryLater, "tryLater", "30030a0103"},
		{OCSPSigRequired, "sigRequired", "30030a0105"},
		{OCSPUnauthorized, "unauthorized", "30030a0106"},
	}
	for _, tt := range tests {
		der, err := CreateOCSPErrorResponse(tt.status)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(der) != tt.der {
			t.Errorf("%v: %x, want %s", tt.status, der, tt.der)
		}
		if tt.status.String() != tt.name {
			t.Errorf("%d.String() = %q", int(tt.status), tt.status.String())
		}
		_, err = ParseOCSPResponse(der, nil)
		var re *OCSPResponseError
		if !errors.As(err, &re) || re.Status != tt.status {
			t.Errorf("%v: ParseOCSPResponse error %v", tt.status, err)
		}
	}
	for _, bad := range []OCSPResponseStatus{OCSPSuccessful, 4, 7} {
		if _, err := CreateOCSPErrorResponse(bad); err == nil {
			t.Errorf("CreateOCSPErrorResponse(%d) succeeded", int(bad))
		}
	}
}

func TestOCSPResponseRoundTrip(t *testing.T) {
	ca := newRevGoCA(t, "Responder CA")
	responder, responderKey := ca.issue(t, 100, x509.ExtKeyUsageOCSPSigning)
	produced := time.Now().UTC().Truncate(time.Second)
	revokedAt := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
	singles := []OCSPSingleResponse{
		{CertID: OCSPCertID{SerialNumber: big.NewInt(1)}, Status: OCSPGood, ThisUpdate: produced, NextUpdate: produced.Add(time.Hour)},
		{CertID: OCSPCertID{Hash: CertIDStreebog256, SerialNumber: big.NewInt(2)}, Status: OCSPRevoked, RevokedAt: revokedAt,
			RevocationReason: ReasonKeyCompromise, ThisUpdate: produced},
		{CertID: OCSPCertID{Hash: CertIDSHA256, SerialNumber: big.NewInt(3)}, Status: OCSPRevoked, RevokedAt: revokedAt, ThisUpdate: produced},
		{CertID: OCSPCertID{SerialNumber: big.NewInt(4)}, Status: OCSPUnknown, ThisUpdate: produced},
	}
	nonce := []byte("0123456789abcdef")
	tests := []struct {
		name      string
		responder *Certificate
		signer    crypto.Signer
		byKey     bool
		certs     int
	}{
		{"CA by name", nil, ca.signer, false, 0},
		{"CA by key", ca.cert, ca.signer, true, 0},
		{"delegated by name", responder, responderKey, false, 1},
		{"delegated by key", responder, responderKey, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := CreateOCSPResponse(rand.Reader, &OCSPResponseTemplate{
				ProducedAt: produced.Add(300 * time.Millisecond), Responses: singles, Nonce: nonce, ResponderIDByKey: tt.byKey,
			}, ca.cert, tt.responder, tt.signer)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseOCSPResponse(der, ca.cert)
			if err != nil {
				t.Fatal(err)
			}
			if !r.ProducedAt.Equal(produced) || !bytes.Equal(r.Nonce, nonce) || len(r.Certificates) != tt.certs {
				t.Errorf("producedAt %v nonce %q certs %d", r.ProducedAt, r.Nonce, len(r.Certificates))
			}
			if tt.byKey != (r.ResponderKeyHash != nil) || tt.byKey == (r.RawResponderName != nil) {
				t.Errorf("responder ID: name %x key hash %x", r.RawResponderName, r.ResponderKeyHash)
			}
			if len(r.Responses) != len(singles) {
				t.Fatalf("%d responses", len(r.Responses))
			}
			for _, want := range singles {
				got, ok := r.Lookup(want.CertID.SerialNumber)
				if !ok {
					t.Fatalf("no response for %v", want.CertID.SerialNumber)
				}
				h := want.CertID.Hash
				if h == 0 {
					h = CertIDSHA1
				}
				wantID, _ := NewOCSPCertID(h, ca.cert, want.CertID.SerialNumber)
				if !got.CertID.Equal(wantID) || got.Status != want.Status || !got.RevokedAt.Equal(want.RevokedAt) ||
					got.RevocationReason != want.RevocationReason || !got.ThisUpdate.Equal(want.ThisUpdate) || !got.NextUpdate.Equal(want.NextUpdate) {
					t.Errorf("got %+v, want %+v", got, want)
				}
			}
			var desc strings.Builder
			if err := r.Describe(&desc); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Время ответа (Produced at): " + describeTime(produced), "Серийный номер (Serial number): 02",
				"Хэш-функция (Hash): streebog256", "Статус (Status): отозван (revoked)", "Причина (Reason): компрометация ключа (keyCompromise)",
				"Статус (Status): неизвестен (unknown)", "Статус (Status): действителен (good)"} {
				if !strings.Contains(desc.String(), want) {
					t.Errorf("Describe lacks %q:\n%s", want, desc.String())
				}
			}
			if tt.certs == 0 {
				revTamper(t, der, 1, func(b []byte) error {
					_, err := ParseOCSPResponse(b, ca.cert)
					return err
				})
			}
		})
	}
}

func TestOCSPResponseRejects(t *testing.T) {
	ca := newRevGoCA(t, "Strict Responder CA")
	other := newRevGoCA(t, "Other CA")
	sameName := newRevGoCA(t, "Strict Responder CA")
	plain, plainKey := ca.issue(t, 5)
	otherResponder, otherResponderKey := other.issue(t, 6, x509.ExtKeyUsageOCSPSigning)
	strange, strangeKey := ca.issueWith(t, 8, []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}},
		x509.ExtKeyUsageOCSPSigning)
	now := time.Now()
	tmpl := func() *OCSPResponseTemplate {
		return &OCSPResponseTemplate{ProducedAt: now, Responses: []OCSPSingleResponse{
			{CertID: OCSPCertID{SerialNumber: big.NewInt(7)}, Status: OCSPGood, ThisUpdate: now}}}
	}
	createFails := []struct {
		name      string
		edit      func(*OCSPResponseTemplate)
		responder *Certificate
		signer    crypto.Signer
	}{
		{"no producedAt", func(r *OCSPResponseTemplate) { r.ProducedAt = time.Time{} }, nil, ca.signer},
		{"no responses", func(r *OCSPResponseTemplate) { r.Responses = nil }, nil, ca.signer},
		{"no thisUpdate", func(r *OCSPResponseTemplate) { r.Responses[0].ThisUpdate = time.Time{} }, nil, ca.signer},
		{"nextUpdate before thisUpdate", func(r *OCSPResponseTemplate) { r.Responses[0].NextUpdate = now.Add(-time.Hour) }, nil, ca.signer},
		{"revoked without time", func(r *OCSPResponseTemplate) { r.Responses[0].Status = OCSPRevoked }, nil, ca.signer},
		{"bad status", func(r *OCSPResponseTemplate) { r.Responses[0].Status = 4 }, nil, ca.signer},
		{"no status", func(r *OCSPResponseTemplate) { r.Responses[0].Status = 0 }, nil, ca.signer},
		{"CertID of another issuer", func(r *OCSPResponseTemplate) {
			r.Responses[0].CertID, _ = NewOCSPCertID(CertIDSHA1, other.cert, big.NewInt(7))
		}, nil, ca.signer},
		{"signer is not the CA", func(*OCSPResponseTemplate) {}, nil, other.signer},
		{"responder without OCSPSigning", func(*OCSPResponseTemplate) {}, plain, plainKey},
		{"responder of another CA", func(*OCSPResponseTemplate) {}, otherResponder, otherResponderKey},
		{"responder with an unknown critical extension", func(*OCSPResponseTemplate) {}, strange, strangeKey},
	}
	for _, tt := range createFails {
		t.Run(tt.name, func(t *testing.T) {
			r := tmpl()
			tt.edit(r)
			if _, err := CreateOCSPResponse(rand.Reader, r, ca.cert, tt.responder, tt.signer); err == nil {
				t.Fatal("CreateOCSPResponse succeeded")
			}
		})
	}

	// A response that is fine for its own CA fails for others.
	der, err := CreateOCSPResponse(rand.Reader, tmpl(), ca.cert, nil, ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ParseOCSPResponse(der, ca.cert); err != nil || r.Extensions != nil || bytes.Contains(der, []byte{0xa1, 0x02, 0x30, 0x00}) {
		t.Errorf("a response without extensions: %v, %v, %x", err, r, der)
	}
	for name, issuer := range map[string]*Certificate{"other CA": other.cert, "same name, other key": sameName.cert} {
		if _, err := ParseOCSPResponse(der, issuer); err == nil {
			t.Errorf("%s: response verified", name)
		}
	}
	// A delegated responder of another CA answering about this CA's
	// certificates is refused, though its signature is fine.
	foreign, err := CreateOCSPResponse(rand.Reader, &OCSPResponseTemplate{ProducedAt: now, Responses: []OCSPSingleResponse{
		{CertID: OCSPCertID{SerialNumber: big.NewInt(7)}, Status: OCSPGood, ThisUpdate: now}}}, other.cert, otherResponder, otherResponderKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseOCSPResponse(foreign, other.cert); err != nil {
		t.Fatalf("response for its own CA: %v", err)
	}
	if _, err := ParseOCSPResponse(foreign, ca.cert); err == nil {
		t.Error("another CA's responder verified for this CA")
	}
}

// TestQueryOCSP runs QueryOCSP against a responder built on
// CreateOCSPResponse.
func TestQueryOCSP(t *testing.T) {
	ca := newRevGoCA(t, "Query CA")
	leaf, _ := ca.issue(t, 0x77)
	revokedAt := time.Now().Add(-time.Hour).Truncate(time.Second)
	type behaviour struct {
		status    OCSPResponseStatus
		httpCode  int
		nonce     func([]byte) []byte
		thisDelta time.Duration
		serial    int64
	}
	responder := func(b behaviour) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/ocsp-request" {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			if b.httpCode != 0 {
				http.Error(w, "broken", b.httpCode)
				return
			}
			body, _ := io.ReadAll(r.Body)
			req, err := ParseOCSPRequest(body)
			if err != nil {
				t.Errorf("responder: %v", err)
				return
			}
			var der []byte
			if b.status != OCSPSuccessful {
				der, err = CreateOCSPErrorResponse(b.status)
			} else {
				id := req.CertIDs[0]
				if b.serial != 0 {
					id.SerialNumber = big.NewInt(b.serial)
				}
				now := time.Now().Add(b.thisDelta)
				der, err = CreateOCSPResponse(rand.Reader, &OCSPResponseTemplate{
					ProducedAt: now, Nonce: b.nonce(req.Nonce),
					Responses: []OCSPSingleResponse{{CertID: id, Status: OCSPRevoked, RevokedAt: revokedAt,
						RevocationReason: ReasonSuperseded, ThisUpdate: now, NextUpdate: now.Add(time.Hour)}},
				}, ca.cert, nil, ca.signer)
			}
			if err != nil {
				t.Errorf("responder: %v", err)
				return
			}
			w.Header().Set("Content-Type", "application/ocsp-response")
			w.Write(der)
		}
	}
	echo := func(n []byte) []byte { return n }
	tests := []struct {
		name         string
		b            behaviour
		wantErr      string
		nonceMatched bool
		stale        OCSPFreshnessReason // CheckCertificate's, 0: the verdict
	}{
		{"echoes nonce", behaviour{nonce: echo}, "", true, 0},
		{"no nonce", behaviour{nonce: func([]byte) []byte { return nil }}, "", false, 0},
		{"wrong nonce", behaviour{nonce: func([]byte) []byte { return []byte("replayed") }}, "nonce does not match", false, 0},
		{"tryLater", behaviour{status: OCSPTryLater}, "tryLater", false, 0},
		{"HTTP 500", behaviour{httpCode: 500}, "HTTP 500", false, 0},
		{"about another certificate", behaviour{nonce: echo, serial: 5}, "does not mention", false, 0},
		// Time is CheckCertificate's business, not the transport's.
		{"stale", behaviour{nonce: echo, thisDelta: -3 * time.Hour}, "", true, OCSPExpired},
		{"from the future", behaviour{nonce: echo, thisDelta: time.Hour}, "", true, OCSPNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(responder(tt.b))
			defer srv.Close()
			r, err := QueryOCSP(context.Background(), srv.URL, leaf, ca.cert, CertIDSHA256)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.NonceMatched != tt.nonceMatched {
				t.Errorf("NonceMatched = %v, want %v", r.NonceMatched, tt.nonceMatched)
			}
			sr, ok := r.Lookup(leaf.SerialNumber)
			if !ok || sr.Status != OCSPRevoked || sr.RevocationReason != ReasonSuperseded || !sr.RevokedAt.Equal(revokedAt) ||
				sr.CertID.Hash != CertIDSHA256 {
				t.Errorf("single response %+v", sr)
			}
			var re *RevokedError
			var fe *OCSPFreshnessError
			switch err := r.CheckCertificate(leaf); {
			case tt.stale != 0:
				if !errors.As(err, &fe) || fe.Reason != tt.stale {
					t.Errorf("CheckCertificate: %v, want %v", err, tt.stale)
				}
			case !errors.As(err, &re) || re.Reason != ReasonSuperseded || re.Source != "OCSP":
				t.Errorf("CheckCertificate: %v", err)
			}
		})
	}
	t.Run("wrong nonce is typed", func(t *testing.T) {
		srv := httptest.NewServer(responder(behaviour{nonce: func([]byte) []byte { return []byte("replayed") }}))
		defer srv.Close()
		if _, err := QueryOCSP(context.Background(), srv.URL, leaf, ca.cert, 0); !errors.Is(err, ErrOCSPNonceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a fresh random nonce each time", func(t *testing.T) {
		var mu sync.Mutex
		var nonces [][]byte
		srv := httptest.NewServer(responder(behaviour{nonce: func(n []byte) []byte {
			mu.Lock()
			defer mu.Unlock()
			nonces = append(nonces, n)
			return n
		}}))
		defer srv.Close()
		for range 2 {
			if _, err := QueryOCSP(context.Background(), srv.URL, leaf, ca.cert, 0); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(nonces) != 2 || len(nonces[0]) != 16 || len(nonces[1]) != 16 || bytes.Equal(nonces[0], nonces[1]) {
			t.Errorf("nonces sent: %x", nonces)
		}
	})
	t.Run("TLS with a private root", func(t *testing.T) {
		srv := httptest.NewTLSServer(responder(behaviour{nonce: echo}))
		defer srv.Close()
		if _, err := QueryOCSP(context.Background(), srv.URL, leaf, ca.cert, 0); err == nil {
			t.Error("the default client trusted the test server's root")
		}
		r, err := QueryOCSPWithClient(context.Background(), srv.Client(), srv.URL, leaf, ca.cert, 0)
		if err != nil {
			t.Fatal(err)
		}
		if sr, ok := r.Lookup(leaf.SerialNumber); !ok || sr.CertID.Hash != CertIDSHA1 {
			t.Errorf("single response %+v", sr)
		}
	})
	t.Run("tryLater is typed", func(t *testing.T) {
		srv := httptest.NewServer(responder(behaviour{status: OCSPTryLater}))
		defer srv.Close()
		_, err := QueryOCSP(context.Background(), srv.URL, leaf, ca.cert, 0)
		var re *OCSPResponseError
		if !errors.As(err, &re) || re.Status != OCSPTryLater {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestOCSPCheckCertificateAt: the time rules, at a fixed now. A response
// with neither nextUpdate nor our nonce is bounded by MaxAge: before, one
// from years ago was good forever (issue 7, item 6).
func TestOCSPCheckCertificateAt(t *testing.T) {
	ca := newRevGoCA(t, "Freshness CA")
	leaf, _ := ca.issue(t, 0x99)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	mk := func(thisUpdate, nextUpdate, producedAt time.Time, nonceMatched bool) *OCSPResponse {
		id, err := NewOCSPCertID(CertIDSHA1, ca.cert, leaf.SerialNumber)
		if err != nil {
			t.Fatal(err)
		}
		der, err := CreateOCSPResponse(rand.Reader, &OCSPResponseTemplate{ProducedAt: producedAt,
			Responses: []OCSPSingleResponse{{CertID: id, Status: OCSPGood, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}}}, ca.cert, nil, ca.signer)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseOCSPResponse(der, ca.cert)
		if err != nil {
			t.Fatal(err)
		}
		r.NonceMatched = nonceMatched
		return r
	}
	var never time.Time
	yearsAgo := now.AddDate(-3, 0, 0)
	tests := []struct {
		name string
		r    *OCSPResponse
		f    OCSPFreshness
		want OCSPFreshnessReason // 0: good
	}{
		{"no nextUpdate, no nonce, years old", mk(yearsAgo, never, yearsAgo, false), OCSPFreshness{Now: now}, OCSPTooOld},
		{"no nextUpdate, our nonce, years old", mk(yearsAgo, never, now, true), OCSPFreshness{Now: now}, 0},
		{"no nextUpdate, no nonce, a minute old", mk(now.Add(-time.Minute), never, now.Add(-time.Minute), false), OCSPFreshness{Now: now}, 0},
		{"no nextUpdate, 59 minutes old", mk(now.Add(-59*time.Minute), never, now, false), OCSPFreshness{Now: now}, 0},
		{"no nextUpdate, 61 minutes old", mk(now.Add(-61*time.Minute), never, now, false), OCSPFreshness{Now: now}, OCSPTooOld},
		{"no nextUpdate, 61 minutes old, MaxAge 2h", mk(now.Add(-61*time.Minute), never, now, false), OCSPFreshness{Now: now, MaxAge: 2 * time.Hour}, 0},
		{"nextUpdate ahead", mk(yearsAgo, now.Add(time.Hour), now, false), OCSPFreshness{Now: now}, 0},
		{"nextUpdate passed", mk(now.Add(-2*time.Hour), now.Add(-time.Hour), now.Add(-2*time.Hour), true), OCSPFreshness{Now: now}, OCSPExpired},
		{"nextUpdate passed within the skew", mk(now.Add(-2*time.Hour), now.Add(-4*time.Minute), now.Add(-2*time.Hour), false), OCSPFreshness{Now: now}, 0},
		{"thisUpdate ahead beyond the skew", mk(now.Add(10*time.Minute), now.Add(time.Hour), now, true), OCSPFreshness{Now: now}, OCSPNotYetValid},
		{"thisUpdate ahead within a wider skew", mk(now.Add(10*time.Minute), now.Add(time.Hour), now, true), OCSPFreshness{Now: now, Skew: 15 * time.Minute}, 0},
		{"thisUpdate ahead within the skew", mk(now.Add(4*time.Minute), now.Add(time.Hour), now, false), OCSPFreshness{Now: now}, 0},
		{"producedAt ahead", mk(now, now.Add(time.Hour), now.Add(time.Hour), true), OCSPFreshness{Now: now}, OCSPNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.CheckCertificateAt(leaf, tt.f)
			var fe *OCSPFreshnessError
			switch {
			case tt.want == 0 && err != nil:
				t.Fatalf("got %v, want good", err)
			case tt.want != 0 && (!errors.As(err, &fe) || fe.Reason != tt.want):
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	old := mk(yearsAgo, never, yearsAgo, false)
	if err := old.CheckCertificate(leaf); err == nil || !strings.Contains(err.Error(), "OCSP response is too old: it has no nextUpdate and did not echo our nonce") {
		t.Errorf("CheckCertificate of a response from years ago: %v", err)
	}
	if err := old.CheckCertificateAt(leaf, OCSPFreshness{Now: now, Skew: -time.Second}); err == nil || errors.As(err, new(*OCSPFreshnessError)) {
		t.Errorf("negative skew: %v", err)
	}
}

func TestOCSPCheckNonce(t *testing.T) {
	r := &OCSPResponse{Nonce: []byte("ours")}
	if err := r.CheckNonce([]byte("theirs")); !errors.Is(err, ErrOCSPNonceMismatch) || r.NonceMatched {
		t.Errorf("other nonce: %v, matched %v", err, r.NonceMatched)
	}
	if err := r.CheckNonce(nil); !errors.Is(err, ErrOCSPNonceMismatch) || r.NonceMatched {
		t.Errorf("no nonce sent: %v, matched %v", err, r.NonceMatched)
	}
	if err := r.CheckNonce([]byte("ours")); err != nil || !r.NonceMatched {
		t.Errorf("our nonce: %v, matched %v", err, r.NonceMatched)
	}
	r = &OCSPResponse{}
	if err := r.CheckNonce([]byte("ours")); err != nil || r.NonceMatched {
		t.Errorf("no nonce echoed: %v, matched %v", err, r.NonceMatched)
	}
}

func TestReadOCSPHTTPRequest(t *testing.T) {
	ca := newRevGoCA(t, "HTTP CA")
	leaf, _ := ca.issue(t, 0x1234)
	der, err := CreateOCSPRequest(leaf, ca.cert, &OCSPRequestOptions{Nonce: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	post := func(ct string, body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		return r
	}
	tests := []struct {
		name string
		req  *http.Request
		ok   bool
	}{
		{"POST", post("application/ocsp-request", der), true},
		{"GET, escaped", httptest.NewRequest(http.MethodGet, "/ocsp/"+url.PathEscape(b64), nil), true},
		{"GET, slashes unescaped", httptest.NewRequest(http.MethodGet, "/ocsp/"+strings.ReplaceAll(url.PathEscape(b64), "%2F", "/"), nil), true},
		{"POST, wrong type", post("application/octet-stream", der), false},
		{"POST, too large", post("application/ocsp-request", make([]byte, ocspMaxRequestSize+1)), false},
		{"GET, other path", httptest.NewRequest(http.MethodGet, "/other/"+url.PathEscape(b64), nil), false},
		{"GET, not base64", httptest.NewRequest(http.MethodGet, "/ocsp/%21%21", nil), false},
		{"PUT", httptest.NewRequest(http.MethodPut, "/ocsp/", bytes.NewReader(der)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ReadOCSPHTTPRequest(tt.req, "/ocsp/")
			if !tt.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(req.CertIDs) != 1 || req.CertIDs[0].SerialNumber.Int64() != 0x1234 || string(req.Nonce) != "n" {
				t.Errorf("request %+v", req)
			}
		})
	}
}
