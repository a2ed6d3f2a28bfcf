package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// revGoCA is a CA made with the standard library (ECDSA P-256), for tests
// that need no openssl.
type revGoCA struct {
	cert   *Certificate
	signer crypto.Signer
}

func newRevGoCA(t testing.TB, cn string) *revGoCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          []byte{1, 2, 3, 4},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &revGoCA{cert: c, signer: key}
}

// issue makes a certificate from ca with the given serial, its own key and
// extended key usages.
func (ca *revGoCA) issue(t testing.TB, serial int64, eku ...x509.ExtKeyUsage) (*Certificate, crypto.Signer) {
	t.Helper()
	return ca.issueWith(t, serial, nil, eku...)
}

// issueWith is issue with extra extensions in the certificate.
func (ca *revGoCA) issueWith(t testing.TB, serial int64, exts []pkix.Extension, eku ...x509.ExtKeyUsage) (*Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	parent, err := x509.ParseCertificate(ca.cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(serial),
		Subject:         pkix.Name{CommonName: "leaf " + big.NewInt(serial).String()},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     eku,
		ExtraExtensions: exts,
	}
	for _, u := range eku {
		if u == x509.ExtKeyUsageOCSPSigning {
			// As RFC 6960 §4.2.2.2.1 suggests for delegated responders.
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDExtensionOCSPNoCheck, Value: []byte{0x05, 0x00}})
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestCRLReasonNames(t *testing.T) {
	tests := []struct {
		r    CRLReason
		name string
	}{
		{ReasonUnspecified, "unspecified"},
		{ReasonKeyCompromise, "keyCompromise"},
		{ReasonCACompromise, "cACompromise"},
		{ReasonAffiliationChanged, "affiliationChanged"},
		{ReasonSuperseded, "superseded"},
		{ReasonCessationOfOperation, "cessationOfOperation"},
		{ReasonCertificateHold, "certificateHold"},
		{ReasonRemoveFromCRL, "removeFromCRL"},
		{ReasonPrivilegeWithdrawn, "privilegeWithdrawn"},
		{ReasonAACompromise, "aACompromise"},
	}
	if len(tests) != len(CRLReasons()) {
		t.Fatalf("CRLReasons has %d entries, want %d", len(CRLReasons()), len(tests))
	}
	for i, tt := range tests {
		if got := tt.r.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", int(tt.r), got, tt.name)
		}
		if got, err := ParseCRLReason(tt.name); err != nil || got != tt.r {
			t.Errorf("ParseCRLReason(%q) = %v, %v", tt.name, got, err)
		}
		if CRLReasons()[i] != tt.r {
			t.Errorf("CRLReasons()[%d] = %v, want %v", i, CRLReasons()[i], tt.r)
		}
	}
	if r, err := ParseCRLReason("CACompromise"); err != nil || r != ReasonCACompromise {
		t.Errorf("OpenSSL spelling CACompromise: %v, %v", r, err)
	}
	for _, bad := range []string{"", "7", "compromised"} {
		if _, err := ParseCRLReason(bad); err == nil {
			t.Errorf("ParseCRLReason(%q) succeeded", bad)
		}
	}
	if CRLReason(7).Valid() || CRLReason(7).String() != "CRLReason(7)" {
		t.Error("reason 7 is unassigned")
	}
}

func TestCRLRoundTrip(t *testing.T) {
	ca := newRevGoCA(t, "Round Trip CA")
	this := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	bigSerial, _ := new(big.Int).SetString("7fffffffffffffffffffffffffffffffffffffff", 16) // 20 octets
	extra := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{0x05, 0x00}}
	revoked := []RevokedCertificate{
		{SerialNumber: big.NewInt(0x1001), RevocationTime: this.Add(-time.Hour), ReasonCode: ReasonKeyCompromise,
			InvalidityDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{SerialNumber: bigSerial, RevocationTime: this.Add(-2 * time.Hour), ReasonCode: ReasonCertificateHold},
		{SerialNumber: big.NewInt(3), RevocationTime: this.Add(-3 * time.Hour), ExtraExtensions: []pkix.Extension{extra}},
		// After 2049 times are GeneralizedTime (RFC 5280 §4.1.2.5).
		{SerialNumber: big.NewInt(4), RevocationTime: time.Date(2051, 5, 6, 7, 8, 9, 0, time.UTC), ReasonCode: ReasonAACompromise},
	}
	tests := []struct {
		name string
		tmpl CRLTemplate
	}{
		{"empty", CRLTemplate{Number: big.NewInt(1), ThisUpdate: this, NextUpdate: this.Add(24 * time.Hour)}},
		{"entries", CRLTemplate{Number: big.NewInt(2), ThisUpdate: this.Add(123 * time.Millisecond), NextUpdate: this.Add(7 * 24 * time.Hour),
			RevokedCertificates: revoked, ExtraExtensions: []pkix.Extension{extra}}},
		{"delta", CRLTemplate{Number: big.NewInt(10), BaseCRLNumber: big.NewInt(9), ThisUpdate: this, NextUpdate: this.Add(time.Hour),
			RevokedCertificates: []RevokedCertificate{{SerialNumber: big.NewInt(5), RevocationTime: this, ReasonCode: ReasonRemoveFromCRL}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := CreateCRL(rand.Reader, &tt.tmpl, ca.cert, ca.signer)
			if err != nil {
				t.Fatal(err)
			}
			pemCRL := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
			// A CA bundle may put its certificate before the CRL.
			bundle := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), pemCRL...)
			for _, in := range [][]byte{der, pemCRL, bundle} {
				crl, err := ParseCRL(in)
				if err != nil {
					t.Fatal(err)
				}
				if err := crl.CheckSignatureFrom(ca.cert); err != nil {
					t.Fatal(err)
				}
				revCheckCRL(t, crl, &tt.tmpl, ca.cert)
			}
		})
	}
}

func revCheckCRL(t *testing.T, crl *CRL, tmpl *CRLTemplate, issuer *Certificate) {
	t.Helper()
	if crl.Version != 2 || !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		t.Errorf("version %d, issuer %x", crl.Version, crl.RawIssuer)
	}
	sec := func(t time.Time) time.Time { return t.Truncate(time.Second) }
	if !crl.ThisUpdate.Equal(sec(tmpl.ThisUpdate)) || !crl.NextUpdate.Equal(sec(tmpl.NextUpdate)) {
		t.Errorf("thisUpdate %v nextUpdate %v, want %v %v", crl.ThisUpdate, crl.NextUpdate, tmpl.ThisUpdate, tmpl.NextUpdate)
	}
	if crl.Number.Cmp(tmpl.Number) != 0 {
		t.Errorf("number %v, want %v", crl.Number, tmpl.Number)
	}
	if (crl.BaseCRLNumber == nil) != (tmpl.BaseCRLNumber == nil) || crl.BaseCRLNumber != nil && crl.BaseCRLNumber.Cmp(tmpl.BaseCRLNumber) != 0 {
		t.Errorf("base CRL number %v, want %v", crl.BaseCRLNumber, tmpl.BaseCRLNumber)
	}
	if !bytes.Equal(crl.AuthorityKeyId, issuer.SubjectKeyId) {
		t.Errorf("AKI %x, want %x", crl.AuthorityKeyId, issuer.SubjectKeyId)
	}
	if len(crl.RevokedCertificates) != len(tmpl.RevokedCertificates) {
		t.Fatalf("%d entries, want %d", len(crl.RevokedCertificates), len(tmpl.RevokedCertificates))
	}
	for i, want := range tmpl.RevokedCertificates {
		got, ok := crl.Lookup(want.SerialNumber)
		if !ok || got != &crl.RevokedCertificates[i] {
			t.Fatalf("Lookup(%v) = %v, %v", want.SerialNumber, got, ok)
		}
		if !got.RevocationTime.Equal(sec(want.RevocationTime)) || got.ReasonCode != want.ReasonCode || !got.InvalidityDate.Equal(sec(want.InvalidityDate)) {
			t.Errorf("entry %d = %v %v %v, want %v %v %v", i, got.RevocationTime, got.ReasonCode, got.InvalidityDate,
				want.RevocationTime, want.ReasonCode, want.InvalidityDate)
		}
		for _, e := range want.ExtraExtensions {
			if !revHasExtension(got.Extensions, e) {
				t.Errorf("entry %d lost extension %v", i, e.Id)
			}
		}
	}
	for _, e := range tmpl.ExtraExtensions {
		if !revHasExtension(crl.Extensions, e) {
			t.Errorf("CRL lost extension %v", e.Id)
		}
	}
	if _, ok := crl.Lookup(big.NewInt(999999)); ok {
		t.Error("Lookup found a serial that is not listed")
	}
}

func revHasExtension(exts []pkix.Extension, want pkix.Extension) bool {
	for _, e := range exts {
		if e.Id.Equal(want.Id) && e.Critical == want.Critical && bytes.Equal(e.Value, want.Value) {
			return true
		}
	}
	return false
}

// TestCRLEncoding pins the DER of the parts other implementations read:
// entry and CRL extensions, and the time types.
func TestCRLEncoding(t *testing.T) {
	ca := newRevGoCA(t, "Encoding CA")
	this := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	der, err := CreateCRL(rand.Reader, &CRLTemplate{
		Number: big.NewInt(0x1234), BaseCRLNumber: big.NewInt(0x1200),
		ThisUpdate: this, NextUpdate: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC),
		RevokedCertificates: []RevokedCertificate{
			{SerialNumber: big.NewInt(0x1001), RevocationTime: this, ReasonCode: ReasonKeyCompromise, InvalidityDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			{SerialNumber: big.NewInt(0x1002), RevocationTime: this},
		},
	}, ca.cert, ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	wants := []struct{ what, hex string }{
		{"version v2", "020101"},
		{"thisUpdate UTCTime", "170d3236313132333130303030305a"},
		{"nextUpdate GeneralizedTime from 2050", "180f32303530303130313030303030305a"},
		{"entry with reason and invalidity date",
			"303b" + "02021001" + "170d3236313132333130303030305a" + "3026" +
				"300a0603551d1504030a0101" + "30180603551d180411180f32303236303130323033303430355a"},
		{"entry without extensions", "3013" + "02021002" + "170d3236313132333130303030305a"},
		{"AKI", "300f0603551d23040830068004" + "01020304"},
		{"CRL number", "300b0603551d140404020212" + "34"},
		{"critical delta CRL indicator", "300e0603551d1b0101ff040402021200"},
	}
	h := hex.EncodeToString(der)
	for _, w := range wants {
		if !strings.Contains(h, w.hex) {
			t.Errorf("%s: %s not in %s", w.what, w.hex, h)
		}
	}
}

func TestCreateCRLRejects(t *testing.T) {
	ca := newRevGoCA(t, "Strict CA")
	leaf, leafKey := ca.issue(t, 2)
	this := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	good := func() CRLTemplate {
		return CRLTemplate{Number: big.NewInt(1), ThisUpdate: this, NextUpdate: this.Add(time.Hour)}
	}
	tests := []struct {
		name   string
		edit   func(*CRLTemplate)
		issuer *Certificate
		signer crypto.Signer
	}{
		{"no number", func(c *CRLTemplate) { c.Number = nil }, ca.cert, ca.signer},
		{"negative number", func(c *CRLTemplate) { c.Number = big.NewInt(-1) }, ca.cert, ca.signer},
		{"number over 20 octets", func(c *CRLTemplate) { c.Number = new(big.Int).Lsh(big.NewInt(1), 160) }, ca.cert, ca.signer},
		{"no thisUpdate", func(c *CRLTemplate) { c.ThisUpdate = time.Time{} }, ca.cert, ca.signer},
		{"no nextUpdate", func(c *CRLTemplate) { c.NextUpdate = time.Time{} }, ca.cert, ca.signer},
		{"nextUpdate not after thisUpdate", func(c *CRLTemplate) { c.NextUpdate = c.ThisUpdate.Add(500 * time.Millisecond) }, ca.cert, ca.signer},
		{"base not below number", func(c *CRLTemplate) { c.BaseCRLNumber = big.NewInt(1) }, ca.cert, ca.signer},
		{"entry without serial", func(c *CRLTemplate) {
			c.RevokedCertificates = []RevokedCertificate{{RevocationTime: this}}
		}, ca.cert, ca.signer},
		{"entry without time", func(c *CRLTemplate) {
			c.RevokedCertificates = []RevokedCertificate{{SerialNumber: big.NewInt(2)}}
		}, ca.cert, ca.signer},
		{"unassigned reason", func(c *CRLTemplate) {
			c.RevokedCertificates = []RevokedCertificate{{SerialNumber: big.NewInt(2), RevocationTime: this, ReasonCode: 7}}
		}, ca.cert, ca.signer},
		{"removeFromCRL in a full CRL", func(c *CRLTemplate) {
			c.RevokedCertificates = []RevokedCertificate{{SerialNumber: big.NewInt(2), RevocationTime: this, ReasonCode: ReasonRemoveFromCRL}}
		}, ca.cert, ca.signer},
		{"signer is not the issuer", func(*CRLTemplate) {}, ca.cert, leafKey},
		{"issuer may not sign CRLs", func(*CRLTemplate) {}, leaf, leafKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := good()
			tt.edit(&tmpl)
			if _, err := CreateCRL(rand.Reader, &tmpl, tt.issuer, tt.signer); err == nil {
				t.Fatal("CreateCRL succeeded")
			}
		})
	}
	tmpl := good()
	if _, err := CreateCRL(rand.Reader, &tmpl, ca.cert, ca.signer); err != nil {
		t.Fatalf("the unedited template fails: %v", err)
	}
}

func TestCRLCheckSignatureFromRejects(t *testing.T) {
	ca := newRevGoCA(t, "CA One")
	other := newRevGoCA(t, "CA Two")
	sameName := newRevGoCA(t, "CA One")
	this := time.Now()
	der, err := CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(1), ThisUpdate: this, NextUpdate: this.Add(time.Hour)}, ca.cert, ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.cert); err != nil {
		t.Fatal(err)
	}
	for name, issuer := range map[string]*Certificate{"other name": other.cert, "same name, other key": sameName.cert, "nil": nil} {
		if err := crl.CheckSignatureFrom(issuer); err == nil {
			t.Errorf("%s: CheckSignatureFrom succeeded", name)
		}
	}
	revTamper(t, der, 1, func(b []byte) error {
		c, err := ParseCRL(b)
		if err != nil {
			return err
		}
		return c.CheckSignatureFrom(ca.cert)
	})
}

// revTamper flips one bit in every stride-th byte of der and requires
// check to fail on each result.
func revTamper(t *testing.T, der []byte, stride int, check func([]byte) error) {
	t.Helper()
	for i := 0; i < len(der); i += stride {
		b := bytes.Clone(der)
		b[i] ^= 0x01
		if err := check(b); err == nil {
			t.Errorf("byte %d of %d flipped, still verifies", i, len(der))
		}
	}
}

func TestParseCRLRejects(t *testing.T) {
	ca := newRevGoCA(t, "Parse CA")
	this := time.Now()
	mk := func(tmpl CRLTemplate) []byte {
		tmpl.Number, tmpl.ThisUpdate, tmpl.NextUpdate = big.NewInt(1), this, this.Add(time.Hour)
		der, err := CreateCRL(rand.Reader, &tmpl, ca.cert, ca.signer)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	critical := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}
	certIssuer := pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 29}, Critical: true, Value: []byte{0x30, 0}}
	valid := mk(CRLTemplate{})
	tests := map[string][]byte{
		"unknown critical CRL extension": mk(CRLTemplate{ExtraExtensions: []pkix.Extension{critical}}),
		"indirect CRL entry": mk(CRLTemplate{RevokedCertificates: []RevokedCertificate{
			{SerialNumber: big.NewInt(2), RevocationTime: this, ExtraExtensions: []pkix.Extension{certIssuer}}}}),
		"trailing data":   append(bytes.Clone(valid), 0),
		"PEM of a cert":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: valid}),
		"certificate DER": ca.cert.Raw,
		"empty":           nil,
	}
	for name, der := range tests {
		if _, err := ParseCRL(der); err == nil {
			t.Errorf("%s: ParseCRL succeeded", name)
		}
	}
}

func TestCRLDescribe(t *testing.T) {
	ca := newRevGoCA(t, "Describe CA")
	this := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	der, err := CreateCRL(rand.Reader, &CRLTemplate{
		Number: big.NewInt(77), BaseCRLNumber: big.NewInt(70), ThisUpdate: this, NextUpdate: this.Add(time.Hour),
		RevokedCertificates: []RevokedCertificate{
			{SerialNumber: big.NewInt(0x1a2b), RevocationTime: this, ReasonCode: ReasonSuperseded, InvalidityDate: this.Add(-time.Hour)},
			{SerialNumber: big.NewInt(0), RevocationTime: this, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}},
		},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 4}, Critical: false, Value: []byte{1, 1, 0xff}}},
	}, ca.cert, ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := crl.Describe(&out); err != nil {
		t.Fatal(err)
	}
	want := `Список отозванных сертификатов (Certificate revocation list):
  Версия (Version): 2
  Алгоритм подписи (Signature algorithm): ` + ECDSAWithSHA256.String() + `
  Издатель (Issuer): CN=Describe CA
    Общее имя (Common name): Describe CA
  Дата выпуска (This update): 2026-11-23 10:00:00 UTC
  Следующий выпуск (Next update): 2026-11-23 11:00:00 UTC
  Номер СОС (CRL number): 77
  Разностный СОС, номер базового (Delta CRL, base CRL number): 70
  Идентификатор ключа издателя (Authority key ID): 01:02:03:04
  Расширение (Extension) 1.2.4: 3 bytes 0101ff
  Отозванные сертификаты (Revoked certificates): 2
    Серийный номер (Serial number): 1A:2B
      Дата отзыва (Revocation date): 2026-11-23 10:00:00 UTC
      Причина (Reason): сертификат заменён (superseded)
      Дата компрометации (Invalidity date): 2026-11-23 09:00:00 UTC
    Серийный номер (Serial number): 00
      Дата отзыва (Revocation date): 2026-11-23 10:00:00 UTC
      Расширение (Extension) 1.2.3: 2 bytes 0500
  Подпись (Signature): ` + fmt.Sprint(len(crl.Signature)) + ` bytes
`
	if out.String() != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestCRLCheckCertificate(t *testing.T) {
	ca := newRevGoCA(t, "Checking CA")
	other := newRevGoCA(t, "Other Checking CA")
	revoked, _ := ca.issue(t, 2)
	good, _ := ca.issue(t, 3)
	released, _ := ca.issue(t, 4)
	foreign, _ := other.issue(t, 2)
	this := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	idp := func(a crlIDPASN1) []pkix.Extension {
		v, err := asn1.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return []pkix.Extension{{Id: OIDExtensionIssuingDistributionPoint, Critical: true, Value: v}}
	}
	mk := func(base *big.Int, exts []pkix.Extension) *CRL {
		entries := []RevokedCertificate{{SerialNumber: big.NewInt(2), RevocationTime: this, ReasonCode: ReasonKeyCompromise}}
		if base != nil {
			entries = append(entries, RevokedCertificate{SerialNumber: big.NewInt(4), RevocationTime: this, ReasonCode: ReasonRemoveFromCRL})
		}
		der, err := CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(5), BaseCRLNumber: base, ThisUpdate: this, NextUpdate: this.Add(time.Hour),
			RevokedCertificates: entries, ExtraExtensions: exts}, ca.cert, ca.signer)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := ParseCRL(der)
		if err != nil {
			t.Fatal(err)
		}
		return crl
	}
	full, delta := mk(nil, nil), mk(big.NewInt(4), nil)
	type outcome int
	const (
		notRevoked outcome = iota
		revokedErr
		otherErr
	)
	tests := []struct {
		name   string
		crl    *CRL
		cert   *Certificate
		issuer *Certificate
		want   outcome
	}{
		{"full, not listed", full, good, ca.cert, notRevoked},
		{"full, listed", full, revoked, ca.cert, revokedErr},
		{"delta, listed", delta, revoked, ca.cert, revokedErr},
		{"delta, released from hold", delta, released, ca.cert, notRevoked},
		{"delta, not listed", delta, good, ca.cert, otherErr},
		{"another CA's certificate", full, foreign, ca.cert, otherErr},
		{"another CA as issuer", full, foreign, other.cert, otherErr},
		{"CA certificates only, leaf", mk(nil, idp(crlIDPASN1{OnlyContainsCACerts: true})), good, ca.cert, otherErr},
		{"CA certificates only, CA", mk(nil, idp(crlIDPASN1{OnlyContainsCACerts: true})), ca.cert, ca.cert, notRevoked},
		{"user certificates only, leaf", mk(nil, idp(crlIDPASN1{OnlyContainsUserCerts: true})), revoked, ca.cert, revokedErr},
		{"user certificates only, CA", mk(nil, idp(crlIDPASN1{OnlyContainsUserCerts: true})), ca.cert, ca.cert, otherErr},
		{"some reasons only", mk(nil, idp(crlIDPASN1{OnlySomeReasons: asn1.BitString{Bytes: []byte{0x40}, BitLength: 2}})), good, ca.cert, otherErr},
		{"indirect", mk(nil, idp(crlIDPASN1{IndirectCRL: true})), good, ca.cert, otherErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.crl.CheckCertificate(tt.cert, tt.issuer)
			var re *RevokedError
			got := otherErr
			switch {
			case err == nil:
				got = notRevoked
			case errors.As(err, &re):
				got = revokedErr
			}
			if got != tt.want {
				t.Fatalf("CheckCertificate = %v (outcome %d), want outcome %d", err, got, tt.want)
			}
			if got == revokedErr && (re.SerialNumber.Int64() != 2 || !re.RevokedAt.Equal(this) || re.Reason != ReasonKeyCompromise || re.Source != "CRL") {
				t.Errorf("RevokedError %+v", re)
			}
		})
	}
	err := full.CheckCertificate(revoked, ca.cert)
	if want := "pki: certificate 2 revoked at 2026-11-23 10:00:00 UTC (CRL says so): keyCompromise"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestCRLIssuingDistributionPoint(t *testing.T) {
	// From `openssl ca -gencrl` with fullname = URI:http://ca.test/revocation.crl
	// and onlyuser = TRUE.
	der, _ := hex.DecodeString("3026a021a01f861d687474703a2f2f63612e746573742f7265766f636174696f6e2e63726c8101ff")
	idp, err := crlParseIDP(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(idp.URIs) != 1 || idp.URIs[0] != "http://ca.test/revocation.crl" || !idp.OnlyContainsUserCerts ||
		idp.OnlyContainsCACerts || idp.OnlySomeReasons || idp.IndirectCRL || idp.OnlyContainsAttributeCerts {
		t.Errorf("parsed %+v", idp)
	}
}

func TestCRLExtraExtensionsOverride(t *testing.T) {
	ca := newRevGoCA(t, "Override CA")
	this := time.Now()
	number := pkix.Extension{Id: OIDExtensionCRLNumber, Value: []byte{0x02, 0x01, 0x63}}
	tmpl := &CRLTemplate{Number: big.NewInt(1), ThisUpdate: this, NextUpdate: this.Add(time.Hour), ExtraExtensions: []pkix.Extension{number}}
	der, err := CreateCRL(rand.Reader, tmpl, ca.cert, ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if crl.Number.Int64() != 99 {
		t.Errorf("CRL number %v, want the override's 99", crl.Number)
	}
	tmpl.ExtraExtensions = []pkix.Extension{number, number}
	if _, err := CreateCRL(rand.Reader, tmpl, ca.cert, ca.signer); err == nil {
		t.Error("an extension given twice was accepted")
	}
}

// issueDP makes a certificate from ca naming the given CRL distribution
// points; isCA makes it a CA certificate.
func (ca *revGoCA) issueDP(t testing.TB, serial int64, isCA bool, dps ...string) *Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	parent, err := x509.ParseCertificate(ca.cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "partitioned " + big.NewInt(serial).String()},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: isCA,
		IsCA:                  isCA,
		CRLDistributionPoints: dps,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// idpFullName is an issuingDistributionPoint's distributionPoint naming
// the URIs: [0] { fullName [0] { [6] uri ... } }.
func idpFullName(t testing.TB, uris ...string) asn1.RawValue {
	t.Helper()
	var names []byte
	for _, u := range uris {
		b, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: generalNameURI, Bytes: []byte(u)})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, b...)
	}
	full, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: names})
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: full}
}

// TestCRLScope: RFC 5280 §6.3.3's scope rules. A CRL of another partition
// (its issuingDistributionPoint names another distribution point), or of
// other kinds of certificates, says nothing about a certificate: it can
// neither clear it nor revoke it. A CRL for only some reasons can revoke
// but not clear.
func TestCRLScope(t *testing.T) {
	ca := newRevGoCA(t, "Partitioned CA")
	const part1, part2 = "http://ca.example/part1.crl", "http://ca.example/part2.crl"
	inPart1 := ca.issueDP(t, 10, false, part1)
	revokedInPart1 := ca.issueDP(t, 11, false, part1)
	twoDPs := ca.issueDP(t, 12, false, "ldap://ca.example/cn=part2", part2)
	noDP := ca.issueDP(t, 13, false)
	subCA := ca.issueDP(t, 14, true, part1)
	upperCase := ca.issueDP(t, 15, false, "HTTP://CA.Example/part1.crl")
	this := time.Now().Add(-time.Minute)
	mk := func(a *crlIDPASN1, revoked ...int64) *CRL {
		var exts []pkix.Extension
		if a != nil {
			v, err := asn1.Marshal(*a)
			if err != nil {
				t.Fatal(err)
			}
			exts = []pkix.Extension{{Id: OIDExtensionIssuingDistributionPoint, Critical: true, Value: v}}
		}
		var entries []RevokedCertificate
		for _, s := range revoked {
			entries = append(entries, RevokedCertificate{SerialNumber: big.NewInt(s), RevocationTime: this, ReasonCode: ReasonKeyCompromise})
		}
		der, err := CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(7), ThisUpdate: this, NextUpdate: this.Add(time.Hour),
			RevokedCertificates: entries, ExtraExtensions: exts}, ca.cert, ca.signer)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := ParseCRL(der)
		if err != nil {
			t.Fatal(err)
		}
		return crl
	}
	relative, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true,
		Bytes: []byte{0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, 'p', 'a', 'r', 't'}})
	if err != nil {
		t.Fatal(err)
	}
	someReasons := asn1.BitString{Bytes: []byte{0x40}, BitLength: 2} // keyCompromise
	const (
		notRevoked = iota
		revokedErr
		otherErr
	)
	tests := []struct {
		name    string
		crl     *CRL
		cert    *Certificate
		want    int
		errText string
	}{
		{"empty CRL of another partition", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part2)}), inPart1, otherErr, "distribution point"},
		{"another partition's CRL listing the serial", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part2)}, 11), revokedInPart1, otherErr, "distribution point"},
		{"own partition, not listed", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part1)}, 11), inPart1, notRevoked, ""},
		{"own partition, listed", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part1)}, 11), revokedInPart1, revokedErr, ""},
		{"one of the certificate's points", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, "http://mirror.example/p2.crl", part2)}), twoDPs, notRevoked, ""},
		{"scheme and host compared without case", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part1)}), upperCase, notRevoked, ""},
		{"certificate without distribution points", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part1)}), noDP, otherErr, "distribution point"},
		{"partition named relative to the issuer", mk(&crlIDPASN1{DistributionPoint: asn1.RawValue{FullBytes: append([]byte{0xa0, byte(len(relative))}, relative...)}}), inPart1, otherErr, "distribution point"},
		{"complete CRL, partitioned certificate", mk(nil), inPart1, notRevoked, ""},
		{"user certificates only, CA", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part1), OnlyContainsUserCerts: true}), subCA, otherErr, "end-entity"},
		{"CA certificates only, CA", mk(&crlIDPASN1{DistributionPoint: idpFullName(t, part1), OnlyContainsCACerts: true}), subCA, notRevoked, ""},
		{"CA certificates only, leaf", mk(&crlIDPASN1{OnlyContainsCACerts: true}), inPart1, otherErr, "CA certificates only"},
		{"attribute certificates only", mk(&crlIDPASN1{OnlyContainsAttributeCerts: true}), inPart1, otherErr, "attribute"},
		{"some reasons, not listed", mk(&crlIDPASN1{OnlySomeReasons: someReasons}), inPart1, otherErr, "some revocation reasons"},
		{"some reasons, listed", mk(&crlIDPASN1{OnlySomeReasons: someReasons}, 11), revokedInPart1, revokedErr, ""},
		{"indirect", mk(&crlIDPASN1{IndirectCRL: true}, 11), revokedInPart1, otherErr, "indirect CRLs are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.crl.CheckCertificate(tt.cert, ca.cert)
			var re *RevokedError
			got := otherErr
			switch {
			case err == nil:
				got = notRevoked
			case errors.As(err, &re):
				got = revokedErr
			}
			if got != tt.want {
				t.Fatalf("CheckCertificate = %v (outcome %d), want outcome %d", err, got, tt.want)
			}
			if got == otherErr && !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not say %q", err, tt.errText)
			}
			if got == revokedErr && re.SerialNumber.Int64() != 11 {
				t.Errorf("RevokedError %+v", re)
			}
		})
	}
}

func TestCRLFreshestCRL(t *testing.T) {
	ca := newRevGoCA(t, "Freshest CRL CA")
	this := time.Now()
	uris := []string{"http://ca.test/delta.crl", "http://mirror.test/delta.crl"}
	der, err := CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(7), ThisUpdate: this, NextUpdate: this.Add(time.Hour), FreshestCRL: uris}, ca.cert, ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(crl.FreshestCRL) != fmt.Sprint(uris) {
		t.Errorf("FreshestCRL = %q, want %q", crl.FreshestCRL, uris)
	}
	for _, e := range crl.Extensions {
		if e.Id.Equal(OIDExtensionFreshestCRL) && e.Critical {
			t.Error("freshestCRL is marked critical")
		}
	}
	// The DER is the CRL distribution points syntax, as openssl writes it:
	// SEQUENCE { SEQUENCE { [0] { [0] { [6] "http://ca.test/delta.crl" } } } }.
	one, err := CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(8), ThisUpdate: this, NextUpdate: this.Add(time.Hour), FreshestCRL: uris[:1]}, ca.cert, ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseCRL(one)
	if err != nil {
		t.Fatal(err)
	}
	want := "3020301ea01ca01a8618687474703a2f2f63612e746573742f64656c74612e63726c"
	for _, e := range parsed.Extensions {
		if e.Id.Equal(OIDExtensionFreshestCRL) && hex.EncodeToString(e.Value) != want {
			t.Errorf("freshestCRL value %x, want %s", e.Value, want)
		}
	}
	_, err = CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(9), BaseCRLNumber: big.NewInt(7), ThisUpdate: this, NextUpdate: this.Add(time.Hour), FreshestCRL: uris}, ca.cert, ca.signer)
	if err == nil {
		t.Error("a delta CRL with a freshestCRL extension was made")
	}
}
