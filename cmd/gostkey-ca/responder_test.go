package main

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

func TestNextResponder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	issuingKey, _ := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	respKey, _ := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	der, err := pki.CreateCertificate(rand.Reader, &pki.Certificate{SerialNumber: big.NewInt(1), Subject: pki.Name{CommonName: "issuing"},
		NotBefore: start, NotAfter: start.AddDate(3, 0, 0), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: -1}, nil, issuingKey.Public(), issuingKey)
	if err != nil {
		t.Fatal(err)
	}
	issuing, _ := pki.ParseCertificate(der)
	cur, err := nextResponder(&pki.Certificate{NotAfter: start}, issuing, respKey.Public(), issuingKey, start)
	if err != nil || cur == nil {
		t.Fatalf("first: %v %v", cur, err)
	}
	if err := cur.CheckSignatureFrom(issuing); err != nil {
		t.Fatal(err)
	}
	if got, err := nextResponder(cur, issuing, respKey.Public(), issuingKey, start.AddDate(0, 6, 0)); got != nil || err != nil {
		t.Errorf("renewed half a year early: %v %v", got, err)
	}
	next, err := nextResponder(cur, issuing, respKey.Public(), issuingKey, cur.NotAfter.Add(-10*24*time.Hour))
	if err != nil || next == nil || !next.NotAfter.After(cur.NotAfter) || next.SerialNumber.Cmp(cur.SerialNumber) == 0 {
		t.Fatalf("near the end: %v %v", next, err)
	}
	// Never beyond the issuing CA.
	last, err := nextResponder(cur, issuing, respKey.Public(), issuingKey, issuing.NotAfter.Add(-5*24*time.Hour))
	if err != nil || !last.NotAfter.Equal(issuing.NotAfter) {
		t.Errorf("at the issuing CA's end: %v %v", last, err)
	}
	if _, err := nextResponder(cur, issuing, respKey.Public(), issuingKey, issuing.NotAfter.Add(time.Hour)); err == nil {
		t.Error("made a responder certificate after the issuing CA expired")
	}
}
