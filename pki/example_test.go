package pki_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// A CA issues a qualified certificate from a request and a relying party
// verifies it. In gostkey the keys live on tokens; any crypto.Signer does.
func Example() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	caKey, _ := gost.GenerateKey(gost.CurveTC26512A, rand.Reader)
	rootDER, err := pki.CreateCertificate(rand.Reader, &pki.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pki.Name{Country: "RU", Organization: "Тестовый УЦ", CommonName: "Тестовый УЦ", OGRN: "1027700132195", INNLE: "7707083893"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, caKey.Public(), caKey)
	if err != nil {
		panic(err)
	}
	root, _ := pki.ParseCertificate(rootDER)

	// The holder's request; the CA checks possession of the key.
	userKey, _ := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	csrDER, _ := pki.CreateCertificateRequest(rand.Reader, &pki.CertificateRequest{Subject: pki.Name{CommonName: "Иванов"}}, userKey)
	csr, _ := pki.ParseCertificateRequest(csrDER)
	if err := csr.CheckSignature(); err != nil {
		panic(err)
	}

	// The CA writes the registered identity, not the request's subject,
	// and lints the template before signing.
	tmpl := &pki.Certificate{
		Subject: pki.Name{
			Country: "RU", CommonName: "Иванов Иван Иванович", Surname: "Иванов", GivenName: "Иван Иванович",
			SNILS: "11223344595", INN: "500100732259",
		},
		NotBefore:             now,
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		PolicyIdentifiers:     []asn1.ObjectIdentifier{pki.OIDPolicyKC1},
		SubjectSignTool:       "СКЗИ «gostkey»",
		IssuerSignTool:        &pki.IssuerSignTool{SignTool: "СКЗИ «gostkey»", CATool: "ПАК «gostkey-ca»", SignToolCert: "СФ/124-0000", CAToolCert: "СФ/128-0000"},
		CRLDistributionPoints: []string{"http://127.0.0.1:8080/v1/crl"},
		OCSPServer:            []string{"http://127.0.0.1:8080/v1/ocsp"},
	}
	if err := pki.CheckQualifiedProfile(tmpl); err != nil {
		panic(err)
	}
	leafDER, err := pki.CreateCertificate(rand.Reader, tmpl, root, csr.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	leaf, _ := pki.ParseCertificate(leafDER)
	chain, err := leaf.Verify(pki.VerifyOptions{Roots: []*pki.Certificate{root}, CurrentTime: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature})
	fmt.Println(leaf.Subject.String(), leaf.SignatureAlgorithm, len(chain), err)

	_, err = leaf.Verify(pki.VerifyOptions{Roots: []*pki.Certificate{root}, CurrentTime: now.AddDate(2, 0, 0)})
	var invalid *pki.CertificateInvalidError
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Reason)
	}
	// Output:
	// INN=500100732259,SNILS=11223344595,GN=Иван Иванович,SN=Иванов,CN=Иванов Иван Иванович,C=RU GOST R 34.10-2012 512 with Streebog-512 2 <nil>
	// expired
}
