package pki

import (
	"crypto/rand"
	"encoding/pem"
	"io"
	"math/big"
	"testing"
	"time"
)

// FuzzParseObjects feeds the PEM-or-DER reader behind `cert show` mixed
// input: PEM bundles of certificates, requests, CRLs and other blocks,
// DER objects, and concatenated DER certificates. It never panics, a
// success holds at least one object, and every object it returns can be
// described.
func FuzzParseObjects(f *testing.F) {
	key := testKey(f, "streebog256")
	root := issue(f, caTemplate("root"), nil, key)
	leaf := issue(f, leafTemplate(), root, testKey(f, "p256")).cert
	csr, err := CreateCertificateRequest(rand.Reader, &CertificateRequest{Subject: Name{CommonName: "x"}}, key)
	if err != nil {
		f.Fatal(err)
	}
	crl, err := CreateCRL(rand.Reader, &CRLTemplate{Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour),
		RevokedCertificates: []RevokedCertificate{{SerialNumber: big.NewInt(7), RevocationTime: testNow, ReasonCode: ReasonKeyCompromise}}}, root.cert, key)
	if err != nil {
		f.Fatal(err)
	}
	var bundle []byte
	for _, b := range []*pem.Block{
		{Type: "CERTIFICATE", Bytes: root.cert.Raw},
		{Type: "PRIVATE KEY", Bytes: []byte{1}},
		{Type: "CERTIFICATE REQUEST", Bytes: csr},
		{Type: "X509 CRL", Bytes: crl},
		{Type: "NEW CERTIFICATE REQUEST", Bytes: csr},
		{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: leaf.Raw},
	} {
		bundle = append(bundle, pem.EncodeToMemory(b)...)
	}
	f.Add(bundle)
	f.Add(append([]byte("text before the PEM\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})...))
	f.Add(root.cert.Raw)
	f.Add(append(append([]byte(nil), root.cert.Raw...), leaf.Raw...))
	f.Add(csr)
	f.Add(crl)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := ParseObjects(data)
		if err != nil {
			return
		}
		if len(objs) == 0 {
			t.Fatal("no objects and no error")
		}
		for _, o := range objs {
			if err := o.Describe(io.Discard); err != nil {
				t.Fatalf("%T: Describe: %v", o, err)
			}
			if c, ok := o.(*Certificate); ok {
				if again, err := ParseCertificate(c.Raw); err != nil || !again.Equal(c) {
					t.Fatalf("a certificate read does not parse again: %v", err)
				}
			}
		}
	})
}
