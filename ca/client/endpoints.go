package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gostkey/gostkey/ca/api/wire"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/pki"
)

// Identity is an applicant as registered (SNILS and INN as digits).
type Identity = wire.Identity

// Registration is the answer to Register: the only time the activation
// code is seen. Link (gostkey://enroll?ca=…&code=…) carries the code too:
// show it, never log it.
type Registration struct {
	OrderID   string
	Code      code.Secret
	Link      string
	ExpiresAt time.Time
	QRPNG     []byte // the link as a QR code
}

// Order is an enrollment order. Status is pending, redeemed, cancelled,
// locked or expired.
type Order struct {
	OrderID           string
	Status            string
	Identity          Identity
	CreatedAt         time.Time
	ExpiresAt         time.Time
	Failures          int
	CertificateSerial string // once redeemed
}

// Issued is a certificate the CA issued by enrollment or renewal, with the
// chain above it (issuing CA, then root).
type Issued struct {
	Certificate *pki.Certificate
	Chain       []*pki.Certificate
	Serial      string // 40 lower-case hex digits
}

// Certificate is a certificate as the CA keeps it. Status is valid,
// revoked, on-hold or expired; Reason an RFC 5280 reason name.
type Certificate struct {
	Serial      string
	Status      string
	Subject     string
	Identity    Identity
	NotBefore   time.Time
	NotAfter    time.Time
	RevokedAt   time.Time
	Reason      string
	Predecessor string
	Successor   string
	PEM         string
}

// Revoked is the answer to a holder's revocation.
type Revoked struct {
	Serial    string
	Status    string
	RevokedAt time.Time
	Reason    string
}

// RevocationCode is a one-time code for revoking a certificate whose token
// is lost.
type RevocationCode struct {
	Code      code.Secret
	ExpiresAt time.Time
}

// Operator is a CA operator. Role is admin, registrar or auditor.
type Operator struct {
	OperatorID string    `json:"operator_id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Disabled   bool      `json:"disabled"`
	CreatedAt  time.Time `json:"created_at"`
}

// IssuedToken is a new API token: the only time it is seen.
type IssuedToken struct {
	TokenID   string
	Token     code.Token
	ExpiresAt time.Time
	CIDRs     []string
}

// Query selects certificates for Certificates; empty fields select all.
// ExpiringWithin ("30d", "12h") selects valid certificates ending within
// it from now; NotAfterFrom/To bound the expiry; Limit is 1..1000 (0: the
// server's 100); PageToken continues a previous answer.
type Query struct {
	Serial, SNILS, INN, Name, Status string
	ExpiringWithin                   string
	NotAfterFrom, NotAfterTo         time.Time
	PageToken                        string
	Limit                            int
}

func (q Query) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("serial", q.Serial)
	set("snils", q.SNILS)
	set("inn", q.INN)
	set("name", q.Name)
	set("status", q.Status)
	set("expiring_within", q.ExpiringWithin)
	if !q.NotAfterFrom.IsZero() {
		v.Set("not_after_from", q.NotAfterFrom.UTC().Format(time.RFC3339))
	}
	if !q.NotAfterTo.IsZero() {
		v.Set("not_after_to", q.NotAfterTo.UTC().Format(time.RFC3339))
	}
	set("page_token", q.PageToken)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// CertificatePage is one page of a search; NextPageToken is "" on the last.
type CertificatePage struct {
	Certificates  []Certificate
	NextPageToken string
}

// orderFrom, certificateFrom, issuedFrom and revokedFrom turn the API's
// wire shapes into the client's types, times and certificates parsed.
func orderFrom(o wire.Order) (*Order, error) {
	out := &Order{OrderID: o.OrderID, Status: o.Status, Identity: o.Identity, Failures: o.Failures, CertificateSerial: o.CertificateSerial}
	var err error
	if out.CreatedAt, err = parseTime("created_at", o.CreatedAt); err != nil {
		return nil, err
	}
	if out.ExpiresAt, err = parseTime("expires_at", o.ExpiresAt); err != nil {
		return nil, err
	}
	return out, nil
}

func certificateFrom(c wire.Certificate) (Certificate, error) {
	out := Certificate{Serial: c.Serial, Status: c.Status, Subject: c.Subject, Identity: c.Identity, Reason: c.Reason,
		Predecessor: c.Predecessor, Successor: c.Successor, PEM: c.PEM}
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Time
	}{{"not_before", c.NotBefore, &out.NotBefore}, {"not_after", c.NotAfter, &out.NotAfter}, {"revoked_at", c.RevokedAt, &out.RevokedAt}} {
		t, err := parseTime(f.name, f.v)
		if err != nil {
			return Certificate{}, err
		}
		*f.dst = t
	}
	return out, nil
}

func issuedFrom(i wire.Issued) (*Issued, error) {
	certs, err := pki.ParseCertificates([]byte(i.Certificate))
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("client: the answer's certificate is not one PEM certificate: %v", err)
	}
	out := &Issued{Certificate: certs[0], Serial: i.Serial}
	for n, p := range i.Chain {
		cs, err := pki.ParseCertificates([]byte(p))
		if err != nil || len(cs) != 1 {
			return nil, fmt.Errorf("client: chain certificate %d of the answer is not one PEM certificate: %v", n+1, err)
		}
		out.Chain = append(out.Chain, cs[0])
	}
	return out, nil
}

// ---- public endpoints

// Roots returns the CA's root certificates (GET /v1/roots).
func (c *Client) Roots(ctx context.Context) ([]*pki.Certificate, error) {
	resp, err := c.send(ctx, "GET", "/v1/roots", nil, nil, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readBounded(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: GET /v1/roots: %w", err)
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("client: GET /v1/roots: no PEM certificate in the answer: %v", err)
	}
	return certs, nil
}

// Enroll redeems an activation code with a PKCS#10 request (DER) made on
// the holder's token (POST /v1/enroll).
func (c *Client) Enroll(ctx context.Context, activation code.Secret, csrDER []byte) (*Issued, error) {
	if !activation.Valid() {
		return nil, errors.New("client: Enroll: no activation code")
	}
	var out wire.Issued
	body := map[string]string{"code": activation.Reveal(), "csr": base64.StdEncoding.EncodeToString(csrDER)}
	if err := c.call(ctx, "POST", "/v1/enroll", nil, body, &out, false); err != nil {
		return nil, err
	}
	return issuedFrom(out)
}

// Renew sends a renewal request (POST /v1/renew): signed is a CMS
// SignedData with the new PKCS#10 request (DER) as its attached content,
// signed by the key of the current certificate (cms.Sign).
func (c *Client) Renew(ctx context.Context, signed []byte) (*Issued, error) {
	var out wire.Issued
	if err := c.call(ctx, "POST", "/v1/renew", nil, map[string]string{"request": base64.StdEncoding.EncodeToString(signed)}, &out, false); err != nil {
		return nil, err
	}
	return issuedFrom(out)
}

func revokedFrom(r wire.Revoked) (*Revoked, error) {
	t, err := parseTime("revoked_at", r.RevokedAt)
	if err != nil {
		return nil, err
	}
	return &Revoked{Serial: r.Serial, Status: r.Status, RevokedAt: t, Reason: r.Reason}, nil
}

// RevokeWithCode revokes with a lost-token revocation code (POST
// /v1/revoke); reason "" is the server's default (keyCompromise).
func (c *Client) RevokeWithCode(ctx context.Context, rc code.Secret, reason string) (*Revoked, error) {
	if !rc.Valid() {
		return nil, errors.New("client: RevokeWithCode: no revocation code")
	}
	body := map[string]string{"code": rc.Reveal()}
	if reason != "" {
		body["reason"] = reason
	}
	var out wire.Revoked
	if err := c.call(ctx, "POST", "/v1/revoke", nil, body, &out, false); err != nil {
		return nil, err
	}
	return revokedFrom(out)
}

// RevokeSigned sends a holder's revocation request (POST /v1/revoke): a
// CMS SignedData by the certificate's key whose content is the JSON
// {"serial","reason","time"}.
func (c *Client) RevokeSigned(ctx context.Context, signed []byte) (*Revoked, error) {
	var out wire.Revoked
	if err := c.call(ctx, "POST", "/v1/revoke", nil, map[string]string{"request": base64.StdEncoding.EncodeToString(signed)}, &out, false); err != nil {
		return nil, err
	}
	return revokedFrom(out)
}

// ---- orders (registrar)

// Register registers an applicant and returns the order's one-time
// activation code (POST /v1/orders).
func (c *Client) Register(ctx context.Context, id Identity) (*Registration, error) {
	var out wire.Registration
	if err := c.call(ctx, "POST", "/v1/orders", nil, id, &out, true); err != nil {
		return nil, err
	}
	secret, err := code.Parse(out.Code)
	if err != nil {
		return nil, fmt.Errorf("client: the answer's activation code: %w", err)
	}
	reg := &Registration{OrderID: out.OrderID, Code: secret, Link: out.Link}
	if reg.ExpiresAt, err = parseTime("expires_at", out.ExpiresAt); err != nil {
		return nil, err
	}
	if out.QRPNG != "" {
		if reg.QRPNG, err = base64.StdEncoding.DecodeString(out.QRPNG); err != nil {
			return nil, fmt.Errorf("client: malformed qr_png in the answer: %w", err)
		}
	}
	return reg, nil
}

// Order reads an order (GET /v1/orders/{id}).
func (c *Client) Order(ctx context.Context, orderID string) (*Order, error) {
	var out wire.Order
	if err := c.call(ctx, "GET", "/v1/orders/"+seg(orderID), nil, nil, &out, true); err != nil {
		return nil, err
	}
	return orderFrom(out)
}

// CancelOrder cancels an order whose code is not used yet (POST
// /v1/orders/{id}/cancel).
func (c *Client) CancelOrder(ctx context.Context, orderID string) (*Order, error) {
	var out wire.Order
	if err := c.call(ctx, "POST", "/v1/orders/"+seg(orderID)+"/cancel", nil, struct{}{}, &out, true); err != nil {
		return nil, err
	}
	return orderFrom(out)
}

// ---- certificates (registrar, auditor)

// Certificates searches certificates (GET /v1/certificates), one page.
func (c *Client) Certificates(ctx context.Context, q Query) (*CertificatePage, error) {
	var out struct {
		Certificates  []wire.Certificate `json:"certificates"`
		NextPageToken string             `json:"next_page_token"`
	}
	if err := c.call(ctx, "GET", "/v1/certificates", q.values(), nil, &out, true); err != nil {
		return nil, err
	}
	page := &CertificatePage{NextPageToken: out.NextPageToken}
	for _, cj := range out.Certificates {
		cert, err := certificateFrom(cj)
		if err != nil {
			return nil, err
		}
		page.Certificates = append(page.Certificates, cert)
	}
	return page, nil
}

// Certificate reads one certificate (GET /v1/certificates/{serial}).
func (c *Client) Certificate(ctx context.Context, serial string) (*Certificate, error) {
	return c.certCall(ctx, "GET", "/v1/certificates/"+seg(serial), nil)
}

// Revoke revokes a certificate for an RFC 5280 reason (keyCompromise,
// superseded, …; POST /v1/certificates/{serial}/revoke).
func (c *Client) Revoke(ctx context.Context, serial, reason string) (*Certificate, error) {
	return c.certCall(ctx, "POST", "/v1/certificates/"+seg(serial)+"/revoke", map[string]string{"reason": reason})
}

// Hold puts a certificate on hold (certificateHold).
func (c *Client) Hold(ctx context.Context, serial string) (*Certificate, error) {
	return c.certCall(ctx, "POST", "/v1/certificates/"+seg(serial)+"/hold", struct{}{})
}

// Release takes a certificate off hold.
func (c *Client) Release(ctx context.Context, serial string) (*Certificate, error) {
	return c.certCall(ctx, "POST", "/v1/certificates/"+seg(serial)+"/release", struct{}{})
}

func (c *Client) certCall(ctx context.Context, method, path string, body any) (*Certificate, error) {
	var out wire.Certificate
	if err := c.call(ctx, method, path, nil, body, &out, true); err != nil {
		return nil, err
	}
	cert, err := certificateFrom(out)
	if err != nil {
		return nil, err
	}
	return &cert, nil
}

// IssueRevocationCode makes a one-time revocation code for a holder whose
// token is lost (POST /v1/certificates/{serial}/revocation-code).
func (c *Client) IssueRevocationCode(ctx context.Context, serial string) (*RevocationCode, error) {
	var out struct {
		Code      string `json:"code"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := c.call(ctx, "POST", "/v1/certificates/"+seg(serial)+"/revocation-code", nil, struct{}{}, &out, true); err != nil {
		return nil, err
	}
	secret, err := code.Parse(out.Code)
	if err != nil {
		return nil, fmt.Errorf("client: the answer's revocation code: %w", err)
	}
	t, err := parseTime("expires_at", out.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return &RevocationCode{Code: secret, ExpiresAt: t}, nil
}

// ---- operators and tokens (admin)

// CreateOperator adds an operator with a role (POST /v1/operators).
func (c *Client) CreateOperator(ctx context.Context, name, role string) (*Operator, error) {
	var out Operator
	if err := c.call(ctx, "POST", "/v1/operators", nil, map[string]string{"name": name, "role": role}, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Operators lists the operators (GET /v1/operators).
func (c *Client) Operators(ctx context.Context) ([]Operator, error) {
	var out struct {
		Operators []Operator `json:"operators"`
	}
	if err := c.call(ctx, "GET", "/v1/operators", nil, nil, &out, true); err != nil {
		return nil, err
	}
	return out.Operators, nil
}

// CreateToken issues an API token for an operator (POST
// /v1/operators/{id}/tokens). expiresIn is a Go duration or "Nd"; cidrs,
// when given, are the source ranges the token is good from.
func (c *Client) CreateToken(ctx context.Context, operatorID, expiresIn string, cidrs []string) (*IssuedToken, error) {
	body := struct {
		ExpiresIn string   `json:"expires_in"`
		CIDRs     []string `json:"cidrs,omitempty"`
	}{expiresIn, cidrs}
	var out struct {
		TokenID   string   `json:"token_id"`
		Token     string   `json:"token"`
		ExpiresAt string   `json:"expires_at"`
		CIDRs     []string `json:"cidrs"`
	}
	if err := c.call(ctx, "POST", "/v1/operators/"+seg(operatorID)+"/tokens", nil, body, &out, true); err != nil {
		return nil, err
	}
	tok, err := code.ParseToken(out.Token)
	if err != nil {
		return nil, fmt.Errorf("client: the answer's token: %w", err)
	}
	t, err := parseTime("expires_at", out.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return &IssuedToken{TokenID: out.TokenID, Token: tok, ExpiresAt: t, CIDRs: out.CIDRs}, nil
}

// RevokeToken revokes an API token (DELETE /v1/tokens/{id}).
func (c *Client) RevokeToken(ctx context.Context, tokenID string) error {
	return c.call(ctx, "DELETE", "/v1/tokens/"+seg(tokenID), nil, nil, nil, true)
}

// ---- audit (auditor, admin)

// ExportAudit streams the audit journal from record from (1: the start)
// to w as JSON lines (GET /v1/audit), unbounded: the journal is as long
// as it is. It returns the bytes written.
func (c *Client) ExportAudit(ctx context.Context, from uint64, w io.Writer) (int64, error) {
	q := url.Values{}
	if from > 1 {
		q.Set("from", strconv.FormatUint(from, 10))
	}
	resp, err := c.send(ctx, "GET", "/v1/audit", q, nil, true)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("client: GET /v1/audit: status %d", resp.StatusCode)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("client: GET /v1/audit: %w", err)
	}
	return n, nil
}
