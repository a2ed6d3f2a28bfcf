package publish

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// Paths and media types of the publication listener.
const (
	PathRoots      = "/v1/roots"
	PathIssuerCert = "/ca/issuing.crt"
	PathRootCert   = "/ca/root.crt"
	PathCRL        = "/crl/issuing.crl"
	PathDeltaCRL   = "/crl/issuing-delta.crl"
	PathRootCRL    = "/crl/root.crl"
	PathOCSP       = "/ocsp"

	TypePEM          = "application/x-pem-file"
	TypeCert         = "application/pkix-cert"
	TypeCRL          = "application/pkix-crl"
	TypeOCSPRequest  = "application/ocsp-request"
	TypeOCSPResponse = "application/ocsp-response"
)

// Handler serves the plain-HTTP publication listener:
//
//	GET  /v1/roots               PEM of the roots          application/x-pem-file
//	GET  /ca/issuing.crt         issuing CA cert, DER      application/pkix-cert
//	GET  /ca/root.crt            the first root, DER       application/pkix-cert
//	GET  /crl/issuing.crl        latest full CRL, DER      application/pkix-crl
//	GET  /crl/issuing-delta.crl  latest delta CRL, DER     application/pkix-crl
//	GET  /crl/root.crl           the root's CRL, DER       application/pkix-crl
//	POST /ocsp                   RFC 6960 request body     application/ocsp-response
//	GET  /ocsp/{base64 request}  RFC 5019                  application/ocsp-response
//
// HEAD works for the certificates and CRLs. CRLs come from the store on each request
// (503 before the first is published) with an ETag of their number, so
// conditional requests get 304. OCSP answers are made per request; HTTP
// caches are told to revalidate (no-cache) so that a revocation is seen at
// once. A nil crl, ocsp or rootCRL leaves its paths 404.
func Handler(roots []*pki.Certificate, issuer *pki.Certificate, crl *CRLPublisher, ocsp *OCSPResponder, rootCRL *RootCRLPublisher) http.Handler {
	var pemRoots bytes.Buffer
	for _, r := range roots {
		_ = pem.Encode(&pemRoots, &pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})
	}
	h := &handler{roots: pemRoots.Bytes(), crl: crl, ocsp: ocsp, rootCRL: rootCRL}
	if issuer != nil {
		h.issuer = issuer.Raw
	}
	if len(roots) > 0 {
		h.root = roots[0].Raw
	}
	return h
}

type handler struct {
	roots, issuer, root []byte
	crl                 *CRLPublisher
	ocsp                *OCSPResponder
	rootCRL             *RootCRLPublisher
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The paths are matched by hand rather than by http.ServeMux: the
	// base64 of a GET request may hold "//", which the mux would "clean"
	// with a redirect.
	switch p := r.URL.Path; {
	case p == PathOCSP:
		if allow(w, r, http.MethodPost) {
			h.serveOCSP(w, r)
		}
	case strings.HasPrefix(p, PathOCSP+"/"):
		if allow(w, r, http.MethodGet) {
			h.serveOCSP(w, r)
		}
	case p == PathRoots:
		h.serveStatic(w, r, h.roots, TypePEM)
	case p == PathIssuerCert:
		h.serveStatic(w, r, h.issuer, TypeCert)
	case p == PathRootCert:
		h.serveStatic(w, r, h.root, TypeCert)
	case p == PathCRL:
		h.serveCRL(w, r, store.CRLFull)
	case p == PathDeltaCRL:
		h.serveCRL(w, r, store.CRLDelta)
	case p == PathRootCRL:
		h.serveRootCRL(w, r)
	default:
		http.NotFound(w, r)
	}
}

// allow answers 405 to other methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request, body []byte, ctype string) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if len(body) == 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func (h *handler) serveCRL(w http.ResponseWriter, r *http.Request, kind store.CRLKind) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if h.crl == nil {
		http.NotFound(w, r)
		return
	}
	c, err := h.crl.Latest(r.Context(), kind)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no CRL published yet", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		h.crl.log.ErrorContext(r.Context(), "reading the latest CRL", "kind", kind, "error", err)
		http.Error(w, "CRL unavailable", http.StatusServiceUnavailable)
		return
	}
	writeCRL(w, r, c)
}

func writeCRL(w http.ResponseWriter, r *http.Request, c store.CRL) {
	w.Header().Set("Content-Type", TypeCRL)
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, c.Number))
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Expires", c.NextUpdate.UTC().Format(http.TimeFormat))
	http.ServeContent(w, r, "", c.ThisUpdate, bytes.NewReader(c.DER))
}

func (h *handler) serveRootCRL(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if h.rootCRL == nil {
		http.NotFound(w, r)
		return
	}
	c := h.rootCRL.Latest()
	if c.Number == 0 {
		http.Error(w, "no CRL published yet", http.StatusServiceUnavailable)
		return
	}
	writeCRL(w, r, c)
}

func (h *handler) serveOCSP(w http.ResponseWriter, r *http.Request) {
	if h.ocsp == nil {
		http.NotFound(w, r)
		return
	}
	var der []byte
	if req, err := pki.ReadOCSPHTTPRequest(r, PathOCSP+"/"); err != nil {
		der = h.ocsp.malformed
	} else {
		der = h.ocsp.respond(r.Context(), req)
	}
	w.Header().Set("Content-Type", TypeOCSPResponse)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", fmt.Sprint(len(der)))
	_, _ = w.Write(der)
}
