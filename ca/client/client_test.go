package client_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/api"
	"github.com/gostkey/gostkey/ca/client"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/internal/catest"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

var ctx = context.Background()

// env is the real API handler over a test CA, on an httptest TLS server
// (127.0.0.1, a free port), and an admin token.
type env struct {
	ca    *catest.CA
	ts    *httptest.Server
	roots *x509.CertPool
	admin code.Token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := catest.New(t)
	srv, err := api.New(api.Deps{
		Registrar: c.Registrar, Enrollment: c.Enrollment, Renewal: c.Renewal, Revocation: c.Revocation, Operators: c.Operators,
		Store: c.Store, Roots: []*pki.Certificate{c.Root}, Issuing: c.Issuing, Now: c.Clock.Now,
		Metrics: api.NewMetrics(c.Store, c.Clock.Now),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	op, err := c.Operators.Create(ctx, "test", "admin-op", store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := c.Operators.IssueToken(ctx, "test", op.ID, 10*365*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &env{ca: c, ts: ts, roots: pool, admin: tok}
}

func (e *env) client(t *testing.T, tok code.Token) *client.Client {
	t.Helper()
	c, err := client.New(e.ts.URL, e.roots, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// registrar makes a registrar operator through the admin API and returns
// a client holding its token.
func (e *env) registrar(t *testing.T) *client.Client {
	t.Helper()
	admin := e.client(t, e.admin)
	op, err := admin.CreateOperator(ctx, "registrar-1", "registrar")
	if err != nil {
		t.Fatal(err)
	}
	if op.Role != "registrar" || op.Name != "registrar-1" || op.Disabled || op.CreatedAt.IsZero() {
		t.Errorf("operator: %+v", op)
	}
	tok, err := admin.CreateToken(ctx, op.OperatorID, "3650d", []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.CIDRs) != 1 || tok.CIDRs[0] != "127.0.0.0/8" || !tok.ExpiresAt.Equal(e.ca.Clock.Now().Add(3650*24*time.Hour).Truncate(time.Second)) {
		t.Errorf("token: %+v", tok)
	}
	return e.client(t, tok.Token)
}

func apiErr(t *testing.T, err error, status int, code string) *client.APIError {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
	return ae
}

func identity() client.Identity {
	id := catest.Identity()
	return client.Identity{Surname: id.Surname, GivenName: id.GivenName, Patronymic: id.Patronymic, SNILS: id.SNILS, INN: id.INN, Email: id.Email}
}

func TestEnrollRevokeOverTheAPI(t *testing.T) {
	e := newEnv(t)
	reg := e.registrar(t)
	admin := e.client(t, e.admin)
	aud, err := admin.CreateOperator(ctx, "auditor-1", "auditor")
	if err != nil {
		t.Fatal(err)
	}
	audTok, err := admin.CreateToken(ctx, aud.OperatorID, "1h", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client(t, audTok.Token).Register(ctx, identity()); err == nil {
		t.Fatal("an auditor registered an applicant")
	} else {
		apiErr(t, err, 403, "forbidden")
	}

	bad := identity()
	bad.SNILS = "11223344596"
	ae := apiErr(t, func() error { _, err := reg.Register(ctx, bad); return err }(), 422, "invalid_field")
	if ae.Field != "snils" || !strings.Contains(ae.Error(), "(422 invalid_field)") {
		t.Errorf("bad SNILS: %+v %q", ae, ae.Error())
	}

	r, err := reg.Register(ctx, identity())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Code.Valid() || !strings.HasPrefix(r.Link, code.LinkScheme+"://enroll?") || len(r.QRPNG) < 8 || !bytes.HasPrefix(r.QRPNG, []byte("\x89PNG")) ||
		!r.ExpiresAt.Equal(e.ca.Clock.Now().Add(ca.DefaultCodeTTL).Truncate(time.Second)) {
		t.Errorf("registration: %+v", r)
	}
	if _, linked, err := code.ParseLink(r.Link); err != nil || linked.Reveal() != r.Code.Reveal() {
		t.Errorf("the link does not carry the code: %v", err)
	}
	o, err := reg.Order(ctx, r.OrderID)
	if err != nil || o.Status != "pending" || o.Identity.Surname != "Иванов" || o.CertificateSerial != "" {
		t.Fatalf("order: %+v %v", o, err)
	}

	holder := e.client(t, code.Token{})
	key := catest.Key(t, gost.CurveTC26256A)
	issued, err := holder.Enroll(ctx, r.Code, catest.CSR(t, key))
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(*gost.PublicKey).Equal(issued.Certificate.PublicKey) || len(issued.Chain) != 2 ||
		!issued.Chain[0].Equal(e.ca.Issuing) || !issued.Chain[1].Equal(e.ca.Root) || len(issued.Serial) != 40 {
		t.Errorf("issued: %+v", issued)
	}
	if _, err := holder.Enroll(ctx, r.Code, catest.CSR(t, catest.Key(t, gost.CurveTC26256A))); err == nil {
		t.Fatal("a used code enrolled again")
	} else {
		apiErr(t, err, 409, "code_used")
	}
	if o, err := reg.Order(ctx, r.OrderID); err != nil || o.Status != "redeemed" || o.CertificateSerial != issued.Serial {
		t.Errorf("redeemed order: %+v %v", o, err)
	}
	if _, err := reg.CancelOrder(ctx, r.OrderID); err == nil {
		t.Error("a redeemed order was cancelled")
	} else {
		apiErr(t, err, 409, "conflict")
	}

	roots, err := holder.Roots(ctx)
	if err != nil || len(roots) != 1 || !roots[0].Equal(e.ca.Root) {
		t.Errorf("roots: %v %v", roots, err)
	}

	page, err := reg.Certificates(ctx, client.Query{SNILS: "11223344595"})
	if err != nil || len(page.Certificates) != 1 || page.NextPageToken != "" {
		t.Fatalf("search: %+v %v", page, err)
	}
	got := page.Certificates[0]
	if got.Serial != issued.Serial || got.Status != "valid" || !got.NotAfter.Equal(issued.Certificate.NotAfter) || got.Identity.INN != "500100732259" || !strings.Contains(got.PEM, "BEGIN CERTIFICATE") {
		t.Errorf("found: %+v", got)
	}
	if page, err := reg.Certificates(ctx, client.Query{ExpiringWithin: "30d"}); err != nil || len(page.Certificates) != 0 {
		t.Errorf("expiring within 30d: %+v %v", page, err)
	}
	if page, err := reg.Certificates(ctx, client.Query{ExpiringWithin: "400d"}); err != nil || len(page.Certificates) != 1 {
		t.Errorf("expiring within 400d: %+v %v", page, err)
	}
	if _, err := reg.Certificates(ctx, client.Query{Status: "bogus"}); err == nil {
		t.Error("a bad status was accepted")
	} else if ae := apiErr(t, err, 422, "invalid_field"); ae.Field != "status" {
		t.Errorf("bad status field %q", ae.Field)
	}

	if c, err := reg.Hold(ctx, strings.ToUpper(issued.Serial)); err != nil || c.Status != "on-hold" {
		t.Errorf("hold: %+v %v", c, err)
	}
	if c, err := reg.Release(ctx, issued.Serial); err != nil || c.Status != "valid" {
		t.Errorf("release: %+v %v", c, err)
	}
	c, err := reg.Revoke(ctx, issued.Serial, "keyCompromise")
	if err != nil || c.Status != "revoked" || c.Reason != "keyCompromise" || !c.RevokedAt.Equal(e.ca.Clock.Now().Truncate(time.Second)) {
		t.Fatalf("revoke: %+v %v", c, err)
	}
	if _, err := reg.Revoke(ctx, issued.Serial, "keyCompromise"); err == nil {
		t.Error("revoked twice")
	} else {
		apiErr(t, err, 409, "conflict")
	}
	if _, err := reg.Certificate(ctx, strings.Repeat("0", 40)); err == nil {
		t.Error("an unknown serial was found")
	} else {
		apiErr(t, err, 404, "not_found")
	}

	var journal bytes.Buffer
	n, err := e.client(t, e.admin).ExportAudit(ctx, 1, &journal)
	if err != nil || n != int64(journal.Len()) || !strings.Contains(journal.String(), `"action":"cert.revoke"`) {
		t.Errorf("audit export: %d %v\n%s", n, err, journal.String())
	}
	if strings.Contains(journal.String(), r.Code.Reveal()) {
		t.Error("the activation code is in the journal")
	}
	var tail bytes.Buffer
	if _, err := e.client(t, e.admin).ExportAudit(ctx, 3, &tail); err != nil || !strings.HasPrefix(tail.String(), `{"seq":3,`) {
		t.Errorf("export from 3: %v %.40s", err, tail.String())
	}
}

// Renewal: refused before the window with its opening time, accepted
// inside it (the CA's clock moved, never slept).
func TestRenew(t *testing.T) {
	e := newEnv(t)
	reg := e.registrar(t)
	r, err := reg.Register(ctx, identity())
	if err != nil {
		t.Fatal(err)
	}
	holder := e.client(t, code.Token{})
	key := catest.Key(t, gost.CurveTC26256A)
	issued, err := holder.Enroll(ctx, r.Code, catest.CSR(t, key))
	if err != nil {
		t.Fatal(err)
	}
	newKey := catest.Key(t, gost.CurveTC26256A)
	proof := func() []byte {
		signed, err := cms.Sign(bytes.NewReader(catest.CSR(t, newKey)), key, issued.Certificate, &cms.SignOptions{SigningTime: e.ca.Clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	_, err = holder.Renew(ctx, proof())
	ae := apiErr(t, err, 409, "renewal_not_open")
	if opens := issued.Certificate.NotAfter.Add(-30 * 24 * time.Hour); !ae.WindowOpensAt.Equal(opens) || !strings.Contains(ae.Error(), opens.UTC().Format(time.RFC3339)) {
		t.Errorf("window opens at %v (%q), want %v", ae.WindowOpensAt, ae.Error(), opens)
	}
	e.ca.Clock.Set(issued.Certificate.NotAfter.Add(-10 * 24 * time.Hour))
	next, err := holder.Renew(ctx, proof())
	if err != nil {
		t.Fatal(err)
	}
	if !newKey.Public().(*gost.PublicKey).Equal(next.Certificate.PublicKey) || next.Serial == issued.Serial {
		t.Errorf("successor: %+v", next)
	}
	if c, err := reg.Certificate(ctx, next.Serial); err != nil || c.Predecessor != issued.Serial {
		t.Errorf("successor record: %+v %v", c, err)
	}
}

// Refusals as the client reads them: the error object, Retry-After, an
// answer that is not JSON, an oversized answer; secrets never in errors.
func TestErrors(t *testing.T) {
	tok, err := code.NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := code.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" && r.Header.Get("Authorization") != "Bearer "+tok.Reveal() {
			http.Error(w, "bad auth header", 500)
			return
		}
		switch r.URL.Path {
		case "/v1/enroll":
			w.Header().Set("Retry-After", "7")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":{"code":"rate_limited","message":"too many failures from this address"}}`)
		case "/v1/orders":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			fmt.Fprint(w, "<html>bad gateway</html>")
		case "/v1/certificates":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"certificates":[],"pad":"%s"}`, strings.Repeat("x", client.MaxResponse))
		case "/v1/operators":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"operators":[{"operator_id":"o1","name":"n","role":"auditor","disabled":false,"created_at":"2026-01-02T03:04:05Z"}]}`)
		}
	}))
	defer ts.Close()
	c, err := client.New(ts.URL+"/", nil, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Enroll(ctx, secret, []byte{0x30, 0})
	if strings.Contains(err.Error(), secret.Reveal()) || strings.Contains(fmt.Sprintf("%v %+v %#v", c, c, c), tok.Reveal()) {
		t.Error("a secret in an error or in the client's printed form")
	}
	if ae := apiErr(t, err, 429, "rate_limited"); ae.RetryAfter != 7*time.Second || !strings.Contains(ae.Error(), "retry after 7s") {
		t.Errorf("429: %+v %q", ae, ae.Error())
	}
	_, err = c.Register(ctx, identity())
	apiErr(t, err, 502, "bad_gateway")
	if _, err = c.Certificates(ctx, client.Query{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized answer: %v", err)
	}
	ops, err := c.Operators(ctx)
	if err != nil || len(ops) != 1 || ops[0].Role != "auditor" || !ops[0].CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("operators: %+v %v", ops, err)
	}

	anon, err := client.New(ts.URL, nil, code.Token{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Operators(ctx); err == nil || !strings.Contains(err.Error(), "needs an operator API token") {
		t.Errorf("operator call without a token: %v", err)
	}
	if _, err := anon.Enroll(ctx, code.Secret{}, nil); err == nil {
		t.Error("Enroll without a code")
	}
	for _, u := range []string{"", "ftp://x", "https://", "https://h/?q=1", "://"} {
		if _, err := client.New(u, nil, code.Token{}, nil); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// The API's TLS certificate must chain to the roots given (here none: an
// empty pool, not nil, which would be the system roots).
func TestTLSRoots(t *testing.T) {
	e := newEnv(t)
	c, err := client.New(e.ts.URL, x509.NewCertPool(), code.Token{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Roots(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server outside the roots was trusted: %v", err)
	}
	if _, err := e.client(t, code.Token{}).Roots(ctx); err != nil {
		t.Errorf("roots through the right TLS root: %v", err)
	}
}
