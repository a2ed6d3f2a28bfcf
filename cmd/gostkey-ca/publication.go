package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gostkey/gostkey/pki"
)

// Until ca/publish (branch ca-publish) is merged, the plain listener serves
// the CA certificates only, and CRL and OCSP answer 503; the revocation use
// case's CRL reissue is logged. The serve wiring swaps both for
// publish.Handler and publish.CRLPublisher when they arrive.

type pendingCRL struct{ log *slog.Logger }

func newCRLPublisher(log *slog.Logger) *pendingCRL { return &pendingCRL{log: log} }

func (p *pendingCRL) Reissue(context.Context) error {
	p.log.Warn("CRL publication is not built in yet (ca/publish); OCSP and CRL answer 503")
	return nil
}

func publicationHandler(roots []*pki.Certificate, issuing *pki.Certificate) http.Handler {
	mux := http.NewServeMux()
	der := func(ctype string, b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ctype)
			_, _ = w.Write(b)
		}
	}
	var rootsPEM []byte
	for _, r := range roots {
		rootsPEM = append(rootsPEM, pemEncode(r.Raw)...)
	}
	mux.Handle("GET /v1/roots", der("application/x-pem-file", rootsPEM))
	mux.Handle("GET /ca/issuing.crt", der("application/pkix-cert", issuing.Raw))
	mux.Handle("GET /ca/root.crt", der("application/pkix-cert", roots[0].Raw))
	unavailable := func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "CRL and OCSP publication are not available yet", http.StatusServiceUnavailable)
	}
	mux.HandleFunc("/crl/", unavailable)
	mux.HandleFunc("/ocsp", unavailable)
	mux.HandleFunc("/ocsp/", unavailable)
	return mux
}
