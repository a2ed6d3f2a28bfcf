package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ocspMaxResponseSize bounds what QueryOCSP reads: a response carries a
// few certificates at most.
const ocspMaxResponseSize = 1 << 20

// QueryOCSP asks the responder at url about cert (RFC 6960 over HTTP POST,
// application/ocsp-request) with a fresh random nonce, and returns the
// response once it is verified against issuer, it answers about cert, and
// its nonce, if it echoes one, is ours (else ErrOCSPNonceMismatch; an
// echoed nonce sets NonceMatched). Whether the answer is current is the
// caller's time policy: r.CheckCertificateAt(cert, f) (or CheckCertificate,
// with the defaults) is the verdict, r.Lookup(cert.SerialNumber) the
// details. An unsuccessful responder status is an *OCSPResponseError.
// hash picks the CertID hash; zero means SHA-1.
func QueryOCSP(ctx context.Context, url string, cert, issuer *Certificate, hash CertIDHash) (*OCSPResponse, error) {
	return QueryOCSPWithClient(ctx, http.DefaultClient, url, cert, issuer, hash)
}

// QueryOCSPWithClient is QueryOCSP through the given HTTP client: for a
// responder behind a private TLS root, a proxy, or a timeout policy.
func QueryOCSPWithClient(ctx context.Context, client *http.Client, url string, cert, issuer *Certificate, hash CertIDHash) (*OCSPResponse, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("pki: OCSP nonce: %w", err)
	}
	reqDER, err := CreateOCSPRequest(cert, issuer, &OCSPRequestOptions{Hash: hash, Nonce: nonce})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(reqDER))
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP request: %w", err)
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	req.Header.Set("Accept", "application/ocsp-response")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP query: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pki: OCSP responder %s answered HTTP %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, ocspMaxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("pki: reading OCSP response: %w", err)
	}
	if len(body) > ocspMaxResponseSize {
		return nil, errors.New("pki: OCSP response too large")
	}
	r, err := ParseOCSPResponse(body, issuer)
	if err != nil {
		return nil, err
	}
	if err := r.CheckNonce(nonce); err != nil {
		return nil, err
	}
	if _, ok := r.Lookup(cert.SerialNumber); !ok {
		return nil, errors.New("pki: OCSP response does not mention the certificate")
	}
	return r, nil
}

// ocspMaxRequestSize bounds what ReadOCSPHTTPRequest reads: a request names
// a few certificates.
const ocspMaxRequestSize = 64 << 10

// ReadOCSPHTTPRequest reads an OCSP request from an HTTP request to a
// responder, in either form of RFC 6960 Appendix A: a POST with the DER
// body (application/ocsp-request), or a GET whose last path segment is the
// URL-escaped base64 of the DER. pathPrefix is the responder's path (e.g.
// "/ocsp/") and is stripped from GET paths.
func ReadOCSPHTTPRequest(r *http.Request, pathPrefix string) (*OCSPRequest, error) {
	var der []byte
	switch r.Method {
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "application/ocsp-request" {
			return nil, fmt.Errorf("pki: OCSP POST with content type %q", ct)
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, ocspMaxRequestSize+1))
		if err != nil {
			return nil, fmt.Errorf("pki: reading OCSP request: %w", err)
		}
		if len(body) > ocspMaxRequestSize {
			return nil, errors.New("pki: OCSP request too large")
		}
		der = body
	case http.MethodGet:
		// EscapedPath keeps %2F and + as sent; base64 may hold '/'.
		p, ok := strings.CutPrefix(r.URL.EscapedPath(), pathPrefix)
		if !ok {
			return nil, errors.New("pki: OCSP GET outside the responder path")
		}
		p, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("pki: OCSP GET path: %w", err)
		}
		if der, err = base64.StdEncoding.DecodeString(p); err != nil {
			return nil, fmt.Errorf("pki: OCSP GET path is not base64: %w", err)
		}
	default:
		return nil, fmt.Errorf("pki: OCSP request with method %s", r.Method)
	}
	return ParseOCSPRequest(der)
}
