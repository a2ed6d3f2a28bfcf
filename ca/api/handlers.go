package api

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/api/wire"
	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// ---- JSON shapes (openapi.json has the same)

func storeIdentity(i wire.Identity) store.Identity {
	return store.Identity{Surname: i.Surname, GivenName: i.GivenName, Patronymic: i.Patronymic, SNILS: i.SNILS, INN: i.INN, Email: i.Email}
}

func wireIdentity(id store.Identity) wire.Identity {
	return wire.Identity{Surname: id.Surname, GivenName: id.GivenName, Patronymic: id.Patronymic, SNILS: id.SNILS, INN: id.INN, Email: id.Email}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// ---- public

func (s *Server) roots(w http.ResponseWriter, _ *http.Request, _ ca.Principal) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	for _, c := range s.d.Roots {
		_, _ = w.Write([]byte(pemCert(c.Raw)))
	}
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ ca.Principal) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

func (s *Server) settings(w http.ResponseWriter, _ *http.Request, _ ca.Principal) {
	if s.d.Settings == nil {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	writeJSON(w, http.StatusOK, s.d.Settings)
}

// ---- orders

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	var req wire.Identity
	if err := readJSON(w, r, s.d.MaxBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	reg, err := s.d.Registrar.Register(r.Context(), p.Operator.ID, storeIdentity(req))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.Registration{
		OrderID: reg.Order.ID, Code: reg.Code.Reveal(), Link: reg.Link,
		ExpiresAt: ts(reg.Order.ExpiresAt), QRPNG: base64.StdEncoding.EncodeToString(reg.QRPNG),
	})
}

func (s *Server) orderJSON(r *http.Request, o store.Order) (wire.Order, error) {
	out := wire.Order{OrderID: o.ID, Status: string(ca.OrderStatus(o, s.d.Now())), Identity: wireIdentity(o.Identity),
		CreatedAt: ts(o.CreatedAt), ExpiresAt: ts(o.ExpiresAt), Failures: o.Failures}
	if o.Status != store.OrderRedeemed {
		return out, nil
	}
	err := s.d.Store.View(r.Context(), func(rd store.Reader) error {
		cs, err := rd.ListCertificates(r.Context(), store.CertificateFilter{OrderID: o.ID, Limit: 1})
		if err == nil && len(cs) == 1 {
			out.CertificateSerial = cs[0].Serial.String()
		}
		return err
	})
	return out, err
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	o, err := s.d.Registrar.Order(r.Context(), r.PathValue("id"))
	if err == nil {
		var out wire.Order
		if out, err = s.orderJSON(r, o); err == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, r, err)
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	if err := readOptionalJSON(w, r, s.d.MaxBody, &struct{}{}); err != nil {
		writeError(w, r, err)
		return
	}
	o, err := s.d.Registrar.Cancel(r.Context(), p.Operator.ID, r.PathValue("id"))
	if err == nil {
		var out wire.Order
		if out, err = s.orderJSON(r, o); err == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, r, err)
}

// ---- enrollment and renewal

type enrollRequest struct {
	Code string `json:"code"`
	CSR  string `json:"csr"`
}

func (e *enrollRequest) Validate() error {
	if e.Code == "" {
		return invalid("code", "required")
	}
	if e.CSR == "" {
		return invalid("csr", "required")
	}
	return nil
}

func decodeBase64(field, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return nil, invalid(field, "not base64")
		}
	}
	return b, nil
}

func (s *Server) issued(w http.ResponseWriter, c *store.Certificate) {
	chain := []string{pemCert(s.d.Issuing.Raw)}
	for _, root := range s.d.Roots {
		chain = append(chain, pemCert(root.Raw))
	}
	writeJSON(w, http.StatusCreated, wire.Issued{Certificate: pemCert(c.DER), Chain: chain, Serial: c.Serial.String()})
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	var req enrollRequest
	if err := readJSON(w, r, s.d.MaxBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	csr, err := decodeBase64("csr", req.CSR)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.d.Enrollment.Enroll(r.Context(), ca.EnrollRequest{Code: req.Code, CSR: csr, Client: clientAddr(r)})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.issued(w, c)
}

type signedRequest struct {
	Request string `json:"request"`
}

func (q *signedRequest) Validate() error {
	if q.Request == "" {
		return invalid("request", "required")
	}
	return nil
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	var req signedRequest
	if err := readJSON(w, r, s.d.MaxBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	der, err := decodeBase64("request", req.Request)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.d.Renewal.Renew(r.Context(), der, clientAddr(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.issued(w, c)
}

// ---- certificates

func (s *Server) certJSON(c store.Certificate) wire.Certificate {
	out := wire.Certificate{Serial: c.Serial.String(), Status: string(c.Status), Identity: wireIdentity(c.Identity),
		NotBefore: ts(c.NotBefore), NotAfter: ts(c.NotAfter), PEM: pemCert(c.DER)}
	if c.Status == store.CertValid && !s.d.Now().Before(c.NotAfter) {
		out.Status = "expired"
	}
	if n, err := pki.ParseNameDER(c.SubjectDER); err == nil {
		out.Subject = n.String()
	}
	if c.Status != store.CertValid {
		out.RevokedAt = ts(c.RevokedAt)
		out.Reason = c.RevocationReason.String()
	}
	if c.PredecessorSerial != nil {
		out.Predecessor = c.PredecessorSerial.String()
	}
	if c.SuccessorSerial != nil {
		out.Successor = c.SuccessorSerial.String()
	}
	return out
}

func serialParam(r *http.Request) (store.Serial, error) {
	s, err := store.ParseSerial(r.PathValue("serial"))
	if err != nil {
		return s, newError(http.StatusNotFound, "not_found", "no such certificate (a serial is 40 hex digits)")
	}
	return s, nil
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	serial, err := serialParam(r)
	if err == nil {
		var c store.Certificate
		if c, err = s.d.Revocation.Certificate(r.Context(), serial); err == nil {
			writeJSON(w, http.StatusOK, s.certJSON(c))
			return
		}
	}
	writeError(w, r, err)
}

// parseWithin reads "30d", "12h", "90m".
func parseWithin(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 || d > 3650 {
			return 0, errors.New("bad days")
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

func encodePageToken(c store.Cursor) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.NotBefore.UnixMicro()))
	return base64.RawURLEncoding.EncodeToString(append(b, c.Serial[:]...))
}

func decodePageToken(s string) (*store.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8+len(store.Serial{}) {
		return nil, errors.New("bad page token")
	}
	c := &store.Cursor{NotBefore: time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC()}
	copy(c.Serial[:], b[8:])
	return c, nil
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	q := r.URL.Query()
	f := store.CertificateFilter{Limit: 100}
	known := map[string]bool{"serial": true, "snils": true, "inn": true, "name": true, "status": true, "expiring_within": true,
		"not_after_from": true, "not_after_to": true, "page_token": true, "limit": true}
	for k := range q {
		if !known[k] {
			writeError(w, r, invalid(k, "unknown query parameter"))
			return
		}
	}
	if v := q.Get("serial"); v != "" {
		sn, err := store.ParseSerial(v)
		if err != nil {
			writeError(w, r, invalid("serial", "40 hex digits"))
			return
		}
		f.Serial = &sn
	}
	f.SNILS = strings.NewReplacer("-", "", " ", "").Replace(q.Get("snils"))
	f.INN = q.Get("inn")
	f.Surname = q.Get("name")
	switch st := q.Get("status"); st {
	case "", "valid", "revoked", "on-hold":
		f.Status = store.CertStatus(st)
	default:
		writeError(w, r, invalid("status", "valid, revoked or on-hold"))
		return
	}
	now := s.d.Now()
	if v := q.Get("expiring_within"); v != "" {
		d, err := parseWithin(v)
		if err != nil {
			writeError(w, r, invalid("expiring_within", "a duration such as 30d or 12h"))
			return
		}
		f.Status, f.NotAfterFrom, f.NotAfterBefore = store.CertValid, now, now.Add(d)
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"not_after_from", &f.NotAfterFrom}, {"not_after_to", &f.NotAfterBefore}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, r, invalid(p.name, "an RFC 3339 time"))
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, invalid("limit", "1 to 1000"))
			return
		}
		f.Limit = n
	}
	if v := q.Get("page_token"); v != "" {
		c, err := decodePageToken(v)
		if err != nil {
			writeError(w, r, invalid("page_token", "not a page token from this API"))
			return
		}
		f.After = c
	}
	var cs []store.Certificate
	if err := s.d.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		cs, err = rd.ListCertificates(r.Context(), f)
		return err
	}); err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Certificates  []wire.Certificate `json:"certificates"`
		NextPageToken string             `json:"next_page_token,omitempty"`
	}{Certificates: []wire.Certificate{}}
	for _, c := range cs {
		out.Certificates = append(out.Certificates, s.certJSON(c))
	}
	if len(cs) == f.Limit {
		out.NextPageToken = encodePageToken(cs[len(cs)-1].Cursor())
	}
	writeJSON(w, http.StatusOK, out)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) revokeCertificate(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	serial, err := serialParam(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req reasonRequest
	if err := readJSON(w, r, s.d.MaxBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	reason, err := ca.ParseReason(req.Reason, "reason")
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.d.Revocation.Revoke(r.Context(), p.Operator.ID, serial, reason)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.certJSON(c))
}

func (s *Server) statusChange(w http.ResponseWriter, r *http.Request, p ca.Principal,
	fn func(*http.Request, string, store.Serial) (store.Certificate, error)) {
	serial, err := serialParam(r)
	if err == nil {
		err = readOptionalJSON(w, r, s.d.MaxBody, &struct{}{})
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := fn(r, p.Operator.ID, serial)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.certJSON(c))
}

func (s *Server) holdCertificate(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	s.statusChange(w, r, p, func(r *http.Request, actor string, sn store.Serial) (store.Certificate, error) {
		return s.d.Revocation.Hold(r.Context(), actor, sn)
	})
}

func (s *Server) releaseCertificate(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	s.statusChange(w, r, p, func(r *http.Request, actor string, sn store.Serial) (store.Certificate, error) {
		return s.d.Revocation.Release(r.Context(), actor, sn)
	})
}

func (s *Server) revocationCode(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	serial, err := serialParam(r)
	if err == nil {
		err = readOptionalJSON(w, r, s.d.MaxBody, &struct{}{})
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	secret, rc, err := s.d.Revocation.IssueCode(r.Context(), p.Operator.ID, serial)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Code      string `json:"code"`
		ExpiresAt string `json:"expires_at"`
	}{secret.Reveal(), ts(rc.ExpiresAt)})
}

type holderRevokeRequest struct {
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	Request string `json:"request"`
}

func (q *holderRevokeRequest) Validate() error {
	switch {
	case q.Code != "" && q.Request != "":
		return invalid("request", "give either code or request, not both")
	case q.Code == "" && q.Request == "":
		return invalid("code", "give a revocation code or a signed request")
	case q.Request != "" && q.Reason != "":
		return invalid("reason", "a signed request carries its reason inside")
	}
	return nil
}

func (s *Server) holderRevoke(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	var req holderRevokeRequest
	if err := readJSON(w, r, s.d.MaxBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	var c store.Certificate
	var err error
	if req.Code != "" {
		var reason *store.RevocationReason
		if req.Reason != "" {
			rr, perr := ca.ParseReason(req.Reason, "reason")
			if perr != nil {
				writeError(w, r, perr)
				return
			}
			reason = &rr
		}
		c, err = s.d.Revocation.RevokeWithCode(r.Context(), req.Code, reason, clientAddr(r))
	} else {
		var der []byte
		if der, err = decodeBase64("request", req.Request); err == nil {
			c, err = s.d.Revocation.RevokeSigned(r.Context(), der, clientAddr(r))
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.Revoked{Serial: c.Serial.String(), Status: string(c.Status), RevokedAt: ts(c.RevokedAt), Reason: c.RevocationReason.String()})
}

// ---- operators and tokens

type operatorRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func toOperatorJSON(o store.Operator) wire.Operator {
	return wire.Operator{OperatorID: o.ID, Name: o.Name, Role: string(o.Role), Disabled: o.Disabled, CreatedAt: ts(o.CreatedAt)}
}

func (s *Server) createOperator(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	var req operatorRequest
	if err := readJSON(w, r, s.d.MaxBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	role, err := ca.ParseRole(req.Role)
	if err != nil {
		writeError(w, r, err)
		return
	}
	op, err := s.d.Operators.Create(r.Context(), p.Operator.ID, req.Name, role)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toOperatorJSON(op))
}

func (s *Server) listOperators(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	ops, err := s.d.Operators.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Operators []wire.Operator `json:"operators"`
	}{Operators: []wire.Operator{}}
	for _, o := range ops {
		out.Operators = append(out.Operators, toOperatorJSON(o))
	}
	writeJSON(w, http.StatusOK, out)
}

type tokenRequest struct {
	ExpiresIn string   `json:"expires_in"`
	CIDRs     []string `json:"cidrs"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	var req tokenRequest
	if err := readJSON(w, r, s.d.MaxBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	d, err := parseWithin(req.ExpiresIn)
	if err != nil {
		writeError(w, r, invalid("expires_in", "a duration such as 720h or 30d"))
		return
	}
	var cidrs []netip.Prefix
	for _, c := range req.CIDRs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			writeError(w, r, invalid("cidrs", "not a CIDR prefix such as 10.0.0.0/8"))
			return
		}
		cidrs = append(cidrs, pfx)
	}
	tok, t, err := s.d.Operators.IssueToken(r.Context(), p.Operator.ID, r.PathValue("id"), d, cidrs)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := wire.Token{TokenID: t.ID, Token: tok.Reveal(), ExpiresAt: ts(t.ExpiresAt)}
	for _, c := range t.AllowedCIDRs {
		out.CIDRs = append(out.CIDRs, c.String())
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p ca.Principal) {
	if err := s.d.Operators.RevokeToken(r.Context(), p.Operator.ID, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- audit

func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	var from uint64 = 1
	if v := r.URL.Query().Get("from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			writeError(w, r, invalid("from", "a record number from 1"))
			return
		}
		from = n
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Cache-Control", "no-store")
	// Once the first line is out the status is sent; a later failure can
	// only cut the stream short, which the reader sees as a missing seq.
	if _, err := audit.Export(r.Context(), s.d.Store, w, from); err != nil {
		if info := requestInfo(r); info != nil {
			info.err = toError(err)
		}
	}
}
