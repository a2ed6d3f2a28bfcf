package publish_test

import (
	"context"
	"crypto"
	"log"
	"net/http"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/publish"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// How gostkey-ca serve wires publication: the issuing CA's and the
// responder's keys are crypto.Signers on the token; the revoke use case
// calls Reissue after its transaction commits.
func Example() {
	var (
		st                      store.Store
		journal                 *audit.Journal
		root, issuer, responder *pki.Certificate
		issuerKey, responderKey crypto.Signer
		publicURL               = "http://127.0.0.1:8089"
		ctx, stop               = context.WithCancel(context.Background())
		serial                  store.Serial
		reason                  = store.ReasonKeyCompromise
	)
	defer stop()
	crls, err := publish.NewCRLPublisher(publish.CRLConfig{DeltaURL: publicURL + publish.PathDeltaCRL},
		publish.CRLDeps{Store: st, Journal: journal, Issuer: issuer, Signer: issuerKey})
	if err != nil {
		log.Fatal(err)
	}
	ocsp, err := publish.NewOCSPResponder(publish.OCSPConfig{},
		publish.OCSPDeps{Store: st, Issuer: issuer, Responder: responder, Signer: responderKey})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = crls.Run(ctx) }() // the first CRLs at once, then on schedule
	srv := &http.Server{Addr: "127.0.0.1:8089", Handler: publish.Handler([]*pki.Certificate{root}, issuer, crls, ocsp, nil),
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.ListenAndServe() }()

	// The revoke use case: revoke and audit in one transaction, then the
	// CRLs (OCSP answers revoked from the commit on).
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.Revoke(ctx, serial, reason, time.Now()); err != nil {
			return err
		}
		_, err := journal.Append(ctx, tx, audit.Entry{Actor: "registrar", Action: "cert.revoke", Object: serial.String()})
		return err
	})
	if err == nil {
		err = crls.Reissue(ctx)
	}
	if err != nil {
		log.Fatal(err)
	}
}
