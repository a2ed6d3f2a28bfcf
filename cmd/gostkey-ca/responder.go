package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/publish"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// The delegated OCSP responder certificate is short-lived (it has
// ocsp-nocheck: nothing can revoke it), so serve renews it at start when it
// is near its end, instead of refusing to answer OCSP a year after init.
const (
	responderLifetime    = 365 * 24 * time.Hour
	responderRenewBefore = 30 * 24 * time.Hour
)

// nextResponder returns a new responder certificate for the same key when
// cur ends within responderRenewBefore of now, else nil. It never outlives
// the issuing CA.
func nextResponder(cur, issuing *pki.Certificate, responderKey crypto.PublicKey, issuingKey crypto.Signer, now time.Time) (*pki.Certificate, error) {
	if cur.NotAfter.Sub(now) > responderRenewBefore {
		return nil, nil
	}
	nb := now.UTC().Truncate(time.Second).Add(-time.Hour)
	na := nb.Add(responderLifetime)
	if na.After(issuing.NotAfter) {
		na = issuing.NotAfter
	}
	if !na.After(now) {
		return nil, fmt.Errorf("the issuing CA certificate expires at %v: no responder certificate can be made", issuing.NotAfter)
	}
	serial, err := pki.NewSerialNumber(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := pki.CreateCertificate(rand.Reader, publish.ResponderTemplate(serial, cur.Subject, nb, na), issuing, responderKey, issuingKey)
	if err != nil {
		return nil, err
	}
	return pki.ParseCertificate(der)
}

// renewResponder replaces the responder certificate when due: on the
// token beside its key, in the certificate file (atomically), and audited.
func renewResponder(ctx context.Context, path string, keys *caKeys, st store.Store, j *audit.Journal, now time.Time) error {
	next, err := nextResponder(keys.ocspCert, keys.issuingCert, keys.ocsp.Public(), keys.issuing, now)
	if err != nil || next == nil {
		return err
	}
	if err := keys.ocsp.Token().ImportCertificate(ctx, keys.ocsp, next.Raw); err != nil {
		return fmt.Errorf("storing the new OCSP responder certificate: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ocsp-*.pem")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pemEncode(next.Raw)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if err := st.Tx(ctx, func(tx store.Tx) error {
		_, err := j.Append(ctx, tx, audit.Entry{Actor: "system", Action: "ocsp.responder.renew", Object: next.SerialNumber.Text(16),
			Details: map[string]string{"previous": keys.ocspCert.SerialNumber.Text(16), "not_after": next.NotAfter.UTC().Format(time.RFC3339)}})
		return err
	}); err != nil {
		return err
	}
	keys.ocspCert = next
	return nil
}
