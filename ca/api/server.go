// Package api is the CA's HTTPS API: JSON handlers over the use cases of
// package ca, exactly as /openapi.json (embedded, openapi.json) describes
// them. One error type (Error) for every refusal; readJSON checks the
// content type, bounds the body and rejects unknown fields; every request
// is one slog event with fixed fields (never a body, a query string, a code
// or a token); operators authenticate with bearer API tokens and every
// route names the roles it admits.
package api

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 document.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// DefaultMaxBody bounds request bodies (a CSR or CMS request in base64 is
// a few kilobytes).
const DefaultMaxBody = 64 << 10

// Deps are the use cases and what the handlers read directly.
type Deps struct {
	Registrar  *ca.Registrar
	Enrollment *ca.Enrollment
	Renewal    *ca.Renewal
	Revocation *ca.Revocation
	Operators  *ca.Operators
	// Store serves searches and the audit export (read only).
	Store store.Store
	// Roots and Issuing make the chain sent with every certificate.
	Roots   []*pki.Certificate
	Issuing *pki.Certificate
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *Metrics
	// Settings is what GET /v1/settings shows an admin: the CA's
	// effective policy settings as JSON (ca.json's profile, enrollment,
	// renewal, revocation, operators, crl, ocsp and audit sections), never
	// a secret or a path. nil: {}.
	Settings any
	// MaxBody bounds request bodies; 0: DefaultMaxBody.
	MaxBody int64
}

// Server is the API's http.Handler.
type Server struct {
	d   Deps
	mux *http.ServeMux
}

// New wires the routes.
func New(d Deps) (*Server, error) {
	if d.Registrar == nil || d.Enrollment == nil || d.Renewal == nil || d.Revocation == nil || d.Operators == nil ||
		d.Store == nil || len(d.Roots) == 0 || d.Issuing == nil || d.Now == nil || d.Metrics == nil {
		return nil, errors.New("api: New needs every use case, the store, the CA certificates, a clock and metrics")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.MaxBody == 0 {
		d.MaxBody = DefaultMaxBody
	}
	s := &Server{d: d, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// Route is one endpoint and the roles it admits (none: public). The admin
// role is admitted wherever an operator is: `gostkey-ca init` makes one
// admin token, and the operator who set the CA up registers and revokes
// with it (ACCEPTANCE.md) before creating registrars.
type Route struct {
	Method, Pattern string
	Roles           []store.Role
}

const (
	admin     = store.RoleAdmin
	registrar = store.RoleRegistrar
	auditor   = store.RoleAuditor
)

func (s *Server) routes() {
	for _, rt := range s.table() {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt.Route, rt.h))
	}
	// Anything else: a JSON 404 (or 405), not the mux's text.
	s.mux.Handle("/", s.wrap(Route{Pattern: "unmatched"}, func(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
		writeError(w, r, newError(http.StatusNotFound, "not_found", "no such endpoint"))
	}))
}

type routeHandler struct {
	Route
	h func(http.ResponseWriter, *http.Request, ca.Principal)
}

// Routes lists every endpoint with its roles (the role table test walks it).
func (s *Server) Routes() []Route {
	var out []Route
	for _, rt := range s.table() {
		out = append(out, rt.Route)
	}
	return out
}

func (s *Server) table() []routeHandler {
	r := func(method, pattern string, h func(http.ResponseWriter, *http.Request, ca.Principal), roles ...store.Role) routeHandler {
		return routeHandler{Route{method, pattern, roles}, h}
	}
	return []routeHandler{
		r("GET", "/v1/roots", s.roots),
		r("GET", "/openapi.json", s.openapi),
		r("POST", "/v1/orders", s.createOrder, registrar, admin),
		r("GET", "/v1/orders/{id}", s.getOrder, registrar, auditor, admin),
		r("POST", "/v1/orders/{id}/cancel", s.cancelOrder, registrar, admin),
		r("POST", "/v1/enroll", s.enroll),
		r("POST", "/v1/renew", s.renew),
		r("GET", "/v1/certificates", s.listCertificates, registrar, auditor, admin),
		r("GET", "/v1/certificates/{serial}", s.getCertificate, registrar, auditor, admin),
		r("POST", "/v1/certificates/{serial}/revoke", s.revokeCertificate, registrar, admin),
		r("POST", "/v1/certificates/{serial}/hold", s.holdCertificate, registrar, admin),
		r("POST", "/v1/certificates/{serial}/release", s.releaseCertificate, registrar, admin),
		r("POST", "/v1/certificates/{serial}/revocation-code", s.revocationCode, registrar, admin),
		r("POST", "/v1/revoke", s.holderRevoke),
		r("POST", "/v1/operators", s.createOperator, admin),
		r("GET", "/v1/operators", s.listOperators, admin),
		r("GET", "/v1/settings", s.settings, admin),
		r("POST", "/v1/operators/{id}/tokens", s.createToken, admin),
		r("DELETE", "/v1/tokens/{id}", s.revokeToken, admin),
		r("GET", "/v1/audit", s.auditExport, auditor, admin),
		r("GET", "/metrics", s.metrics, auditor, admin),
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// info is what a request's log line says, filled as it goes.
type info struct {
	operator string
	err      *Error
}

type infoKey struct{}

func requestInfo(r *http.Request) *info {
	i, _ := r.Context().Value(infoKey{}).(*info)
	return i
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// clientAddr is the peer's address. The API is not behind a proxy it
// trusts, so forwarded headers are ignored.
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// wrap adds the request's log event and metrics, and authentication when
// the route has roles.
func (s *Server) wrap(rt Route, h func(http.ResponseWriter, *http.Request, ca.Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		in := &info{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, in))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := rt.Method + " " + rt.Pattern
			if rt.Method == "" {
				route = rt.Pattern
			}
			s.d.Metrics.request(route, status)
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", sw.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("client", clientAddr(r).String()),
				slog.String("operator", in.operator),
			}
			// The same fields on every line: the error's code, and for a
			// server failure its internal cause (never sent to the client).
			level, code, cause := slog.LevelInfo, "", ""
			if in.err != nil {
				code = in.err.Code
				if in.err.Status >= 500 {
					level, cause = slog.LevelError, errString(in.err.Err)
				}
			}
			attrs = append(attrs, slog.String("error_code", code), slog.String("cause", cause))
			s.d.Log.LogAttrs(r.Context(), level, "request", attrs...)
		}()
		var p ca.Principal
		if len(rt.Roles) > 0 {
			var err error
			if p, err = s.authenticate(r, rt.Roles); err != nil {
				writeError(sw, r, err)
				return
			}
			in.operator = p.Operator.ID
		}
		h(sw, r, p)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Server) authenticate(r *http.Request, roles []store.Role) (ca.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return ca.Principal{}, newError(http.StatusUnauthorized, "unauthenticated", "an API token is required (Authorization: Bearer gsk_…)")
	}
	p, err := s.d.Operators.Authenticate(r.Context(), tok, clientAddr(r))
	if err != nil {
		return p, err
	}
	for _, role := range roles {
		if p.Operator.Role == role {
			return p, nil
		}
	}
	return p, newError(http.StatusForbidden, "forbidden", "this operator's role may not do this")
}
