package cms

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/gostkey/gostkey/pki"
)

// TestRevocationCRLOfAnotherPartition: an empty CRL whose
// issuingDistributionPoint names a partition the signer's certificate is
// not in (it names none) settles nothing, so revocation stays unknown
// instead of "not revoked" (issue 7, item 4).
func TestRevocationCRLOfAnotherPartition(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	// issuingDistributionPoint { distributionPoint [0] { fullName [0] { URI } } }
	uri := "http://127.0.0.1:9/partition-2.crl"
	idp := append([]byte{0x30, byte(len(uri) + 6), 0xa0, byte(len(uri) + 4), 0xa0, byte(len(uri) + 2), 0x86, byte(len(uri))}, uri...)
	now := time.Now()
	der, err := pki.CreateCRL(rand.Reader, &pki.CRLTemplate{Number: big.NewInt(2), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: pki.OIDExtensionIssuingDistributionPoint, Critical: true, Value: idp}}}, id.root, id.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	partition, err := pki.ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if partition.IssuingDistributionPoint == nil || len(partition.IssuingDistributionPoint.URIs) != 1 {
		t.Fatalf("test CRL's issuingDistributionPoint parsed as %+v", partition.IssuingDistributionPoint)
	}
	for _, tc := range []struct {
		name string
		crls []*pki.CRL
		want Reason
	}{
		{"partition CRL only", []*pki.CRL{partition}, RevocationUnknown},
		{"partition CRL and a complete CRL", []*pki.CRL{partition, makeCRL(t, id)}, 0},
	} {
		_, err := Verify(sig, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, CRLs: tc.crls})
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}
