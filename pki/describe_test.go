package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestDescribeCertificate(t *testing.T) {
	root := issue(t, caTemplate("Тестовый корневой УЦ"), nil, testKey(t, "streebog256"))
	tmpl := leafTemplate()
	tmpl.Subject.INN = "500100732258" // wrong control digit: shown, and flagged
	tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, OIDExtKeyUsageCryptoProRAUser)
	leaf := issue(t, tmpl, root, testKey(t, "streebog512")).cert
	var b strings.Builder
	if err := Describe(&b, leaf); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Серийный номер (Serial number): 7F7F",
		"Алгоритм подписи (Signature algorithm): GOST R 34.10-2012 256 with Streebog-256",
		"Издатель (Issuer): OGRN=1027700132195,INNLE=7707083893,CN=Тестовый корневой УЦ,O=Тестовый УЦ,C=RU",
		"    СНИЛС (SNILS): 11223344595\n",
		"    ИНН (INN): 500100732258 (НЕВЕРНО / INVALID: wrong control digits)\n",
		"    ОГРН (OGRN): 1027700132195\n",
		"    Фамилия (Surname): Иванов\n",
		"    Имя и отчество (Given name): Иван Иванович\n",
		"Действителен по (Not after): 2027-06-01 12:00:00 UTC",
		"Открытый ключ (Public key): GOST R 34.10-2012 512 bit",
		"Основные ограничения (basicConstraints) (critical): CA: no",
		"Использование ключа (keyUsage) (critical): digitalSignature, nonRepudiation, keyEncipherment",
		"Расширенное использование ключа (extKeyUsage): clientAuth 1.3.6.1.5.5.7.3.2, emailProtection 1.3.6.1.5.5.7.3.4, пользователь ЦР (CryptoPro RA user) 1.2.643.2.2.34.6\n",
		"Политики, класс средства ЭП (certificatePolicies): КС1 (KC1) 1.2.643.100.113.1, КС2 (KC2) 1.2.643.100.113.2",
		"Средство ЭП владельца (subjectSignTool): СКЗИ «gostkey»",
		"      Средство УЦ (cATool): ПАК «gostkey-ca»",
		"Срок действия ключа подписи (privateKeyUsagePeriod): from 2026-06-01 11:00:00 UTC until 2027-06-01 12:00:00 UTC",
		"      OCSP: http://127.0.0.1:8080/v1/ocsp",
		"Точки распространения СОС (cRLDistributionPoints): http://127.0.0.1:8080/v1/crl",
		"Альтернативные имена (subjectAltName): email:ivanov@example.ru, DNS:localhost, IP:127.0.0.1",
		"Отпечаток SHA-256 (Fingerprint): ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	b.Reset()
	if err := root.cert.Describe(&b); err != nil || !strings.Contains(b.String(), "Подпись (Signature): 64 bytes, самоподписанный, верна (self-signed, valid)") {
		t.Errorf("root: %v\n%s", err, b.String())
	}
	if err := leaf.Describe(failingWriter{}); err == nil {
		t.Error("write error lost")
	}
}

func TestDescribeRequest(t *testing.T) {
	der, err := CreateCertificateRequest(rand.Reader, &CertificateRequest{
		Subject:  Name{CommonName: "Иванов", SNILS: "11223344595"},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}, testKey(t, "streebog256"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Describe(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Запрос на сертификат (Certificate request):",
		"    СНИЛС (SNILS): 11223344595\n",
		"Использование ключа (keyUsage) (critical): digitalSignature\n",
		"Подпись (Signature): 64 bytes, верна (valid)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, b.String())
		}
	}
	r.Signature[0] ^= 1
	b.Reset()
	if err := r.Describe(&b); err != nil || !strings.Contains(b.String(), "НЕВЕРНА (INVALID)") {
		t.Errorf("altered request described as:\n%s", b.String())
	}
	if err := Describe(&b, "text"); err == nil {
		t.Error("a string was described")
	}
}

func TestParseObjects(t *testing.T) {
	key := testKey(t, "streebog256")
	root := issue(t, caTemplate("root"), nil, key)
	csr, err := CreateCertificateRequest(rand.Reader, &CertificateRequest{Subject: Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour)}, root.cert, key)
	if err != nil {
		t.Fatal(err)
	}
	var bundle []byte
	for _, b := range []*pem.Block{
		{Type: "CERTIFICATE", Bytes: root.cert.Raw},
		{Type: "PRIVATE KEY", Bytes: []byte{1}},
		{Type: "CERTIFICATE REQUEST", Bytes: csr},
		{Type: "X509 CRL", Bytes: crl},
	} {
		bundle = append(bundle, pem.EncodeToMemory(b)...)
	}
	tests := []struct {
		name  string
		data  []byte
		types []string
	}{
		{"PEM bundle", bundle, []string{"*pki.Certificate", "*pki.CertificateRequest", "*pki.CRL"}},
		{"DER certificate", root.cert.Raw, []string{"*pki.Certificate"}},
		{"DER request", csr, []string{"*pki.CertificateRequest"}},
		{"DER CRL", crl, []string{"*pki.CRL"}},
	}
	for _, tt := range tests {
		objs, err := ParseObjects(tt.data)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var types []string
		for _, o := range objs {
			types = append(types, fmt.Sprintf("%T", o))
			if err := Describe(io.Discard, o); err != nil {
				t.Errorf("%s: Describe: %v", tt.name, err)
			}
		}
		if !reflect.DeepEqual(types, tt.types) {
			t.Errorf("%s: got %v, want %v", tt.name, types, tt.types)
		}
	}
	for _, bad := range [][]byte{[]byte("hello"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})} {
		if _, err := ParseObjects(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
