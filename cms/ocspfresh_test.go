package cms

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gostkey/gostkey/pki"
)

// TestRevocationOCSPFreshness: an OCSP answer counts only while current.
// Before, a "good" with neither nonce nor nextUpdate from years ago passed
// (issue 7, item 6).
func TestRevocationOCSPFreshness(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := func(thisUpdate, nextUpdate time.Time, nonceMatched bool) OCSPQuery {
		return func(_ context.Context, _ string, cert, _ *pki.Certificate) (*pki.OCSPResponse, error) {
			return &pki.OCSPResponse{ProducedAt: time.Now(), NonceMatched: nonceMatched, Responses: []pki.OCSPSingleResponse{{
				CertID: pki.OCSPCertID{SerialNumber: cert.SerialNumber}, Status: pki.OCSPGood, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}}}, nil
		}
	}
	now := time.Now()
	var never time.Time
	for _, tc := range []struct {
		name         string
		query        OCSPQuery
		maxAge, skew time.Duration
		want         Reason
	}{
		{"years old, no nonce, no nextUpdate", good(now.AddDate(-3, 0, 0), never, false), 0, 0, RevocationUnknown},
		{"years old, our nonce, no nextUpdate", good(now.AddDate(-3, 0, 0), never, true), 0, 0, 0},
		{"two hours old, no nonce, no nextUpdate", good(now.Add(-2*time.Hour), never, false), 0, 0, RevocationUnknown},
		{"two hours old, OCSPMaxAge 3h", good(now.Add(-2*time.Hour), never, false), 3 * time.Hour, 0, 0},
		{"nextUpdate passed", good(now.Add(-2*time.Hour), now.Add(-time.Hour), true), 0, 0, RevocationUnknown},
		{"nextUpdate ahead", good(now.Add(-2*time.Hour), now.Add(time.Hour), false), 0, 0, 0},
		{"ten minutes in the future", good(now.Add(10*time.Minute), now.Add(time.Hour), true), 0, 0, RevocationUnknown},
		{"ten minutes in the future, OCSPSkew 15m", good(now.Add(10*time.Minute), now.Add(time.Hour), true), 0, 15 * time.Minute, 0},
	} {
		_, err := Verify(sig, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}, OCSP: true, OCSPQuery: tc.query,
			OCSPMaxAge: tc.maxAge, OCSPSkew: tc.skew})
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}
