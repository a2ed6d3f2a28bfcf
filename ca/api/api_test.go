package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/api"
	"github.com/gostkey/gostkey/ca/internal/catest"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

var ctx = context.Background()

func init() {
	openapi3filter.RegisterBodyDecoder("application/x-pem-file", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/jsonl", openapi3filter.PlainBodyDecoder)
}

// env is a CA behind the API on an httptest server (127.0.0.1, a free
// port), with one token per role and the OpenAPI router the calls are
// validated with.
type env struct {
	*catest.CA
	srv    *api.Server
	ts     *httptest.Server
	router routers.Router
	tokens map[store.Role]string
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvWith lets a test replace use cases of the CA before the API is
// built on them.
func newEnvWith(t testing.TB, edit func(*catest.CA)) *env {
	t.Helper()
	c := catest.New(t)
	if edit != nil {
		edit(c)
	}
	e := &env{CA: c, tokens: map[store.Role]string{}, logs: &syncBuffer{}}
	metrics := api.NewMetrics(c.Store, c.Clock.Now)
	// Operators as serve wires them: failed authentications counted.
	ops, err := ca.NewOperators(ca.OperatorsConfig{MaxTokenLifetime: 20 * 365 * 24 * time.Hour}, ca.OperatorsDeps{Store: c.Store,
		Journal: c.Journal, Limiter: ca.NewLimiter(100, time.Minute, c.Clock.Now), Now: c.Clock.Now, OnAuthFailure: metrics.AuthFailure})
	if err != nil {
		t.Fatal(err)
	}
	c.Operators = ops
	srv, err := api.New(api.Deps{
		Registrar: c.Registrar, Enrollment: c.Enrollment, Renewal: c.Renewal, Revocation: c.Revocation, Operators: ops,
		Store: c.Store, Roots: []*pki.Certificate{c.Root}, Issuing: c.Issuing, Now: c.Clock.Now,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Metrics: metrics, MaxBody: 16 << 10,
		Settings: map[string]any{"enrollment": map[string]any{"code_ttl": "15m", "max_failures": 5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv)
	t.Cleanup(e.ts.Close)
	for _, role := range []store.Role{store.RoleAdmin, store.RoleRegistrar, store.RoleAuditor} {
		op, err := c.Operators.Create(ctx, "test", string(role)+"-op", role)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := c.Operators.IssueToken(ctx, "test", op.ID, 10*365*24*time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[role] = tok.Reveal()
	}
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if e.router, err = legacy.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return e
}

type call struct {
	method, path string
	role         store.Role // "" : no token
	body         any        // marshalled as JSON unless []byte
	contentType  string     // default application/json when there is a body
	// invalidRequest: the request is meant to break the spec (bad JSON,
	// wrong type); only the response is validated.
	invalidRequest bool
	// unlisted: the path is not in openapi.json at all.
	unlisted bool
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) errCode() string {
	var b struct {
		Error struct{ Code, Field string }
	}
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Code
}

func (r result) errField() string {
	var b struct {
		Error struct{ Code, Field string }
	}
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Field
}

func (e *env) do(t *testing.T, c call) result {
	t.Helper()
	var raw []byte
	switch b := c.body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	if c.contentType == "" && raw != nil {
		c.contentType = "application/json"
	}
	newReq := func() *http.Request {
		req, err := http.NewRequest(c.method, e.ts.URL+c.path, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		if c.role != "" {
			req.Header.Set("Authorization", "Bearer "+e.tokens[c.role])
		}
		return req
	}
	resp, err := http.DefaultClient.Do(newReq())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if c.unlisted {
		return result{resp.StatusCode, resp.Header, body}
	}
	// Validate the exchange against openapi.json.
	vreq := newReq()
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		t.Fatalf("%s %s: not in openapi.json: %v", c.method, c.path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}}
	if !c.invalidRequest {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s %s: request breaks openapi.json: %v", c.method, c.path, err)
		}
	}
	if err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: in.Options,
	}); err != nil {
		t.Errorf("%s %s → %d: response breaks openapi.json: %v\n%s", c.method, c.path, resp.StatusCode, err, body)
	}
	return result{resp.StatusCode, resp.Header, body}
}

func (e *env) want(t *testing.T, c call, status int, code string) result {
	t.Helper()
	r := e.do(t, c)
	if r.status != status || (code != "" && r.errCode() != code) {
		t.Fatalf("%s %s → %d %s, want %d %s\n%s", c.method, c.path, r.status, r.errCode(), status, code, r.body)
	}
	return r
}

func applicant() map[string]string {
	return map[string]string{"surname": "Иванов", "given_name": "Иван", "patronymic": "Иванович", "snils": "112-233-445 95", "inn": "500100732259"}
}

func (e *env) register(t *testing.T) map[string]string {
	t.Helper()
	r := e.want(t, call{method: "POST", path: "/v1/orders", role: store.RoleRegistrar, body: applicant()}, 201, "")
	var out map[string]string
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func csrB64(t *testing.T, key *gost.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(catest.CSR(t, key))
}

type issued struct {
	Certificate string   `json:"certificate"`
	Chain       []string `json:"chain"`
	Serial      string   `json:"serial"`
}

func (e *env) enroll(t *testing.T, key *gost.PrivateKey) issued {
	t.Helper()
	reg := e.register(t)
	r := e.want(t, call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": csrB64(t, key)}}, 201, "")
	var out issued
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) certCount(t *testing.T) int {
	var n int
	if err := e.Store.View(ctx, func(r store.Reader) error {
		var err error
		n, err = r.CountCertificates(ctx, store.CertificateFilter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) auditHead(t *testing.T) uint64 {
	var n uint64
	if err := e.Store.View(ctx, func(r store.Reader) error { var err error; n, _, err = r.AuditHead(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every endpoint with every role and with no token: the roles the route
// names get past authorization, every other role gets 403, no token 401;
// public routes never ask.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	fill := strings.NewReplacer("{id}", "nonexistent", "{serial}", strings.Repeat("4a", 20))
	bodies := map[string]any{
		"POST /v1/orders":                       map[string]string{"surname": "X"},
		"POST /v1/certificates/{serial}/revoke": map[string]string{"reason": "keyCompromise"},
		"POST /v1/operators":                    map[string]string{"name": "", "role": "auditor"},
		"POST /v1/operators/{id}/tokens":        map[string]string{"expires_in": "1h"},
		"POST /v1/enroll":                       map[string]string{"code": "x", "csr": "x"},
		"POST /v1/renew":                        map[string]string{"request": "eA=="},
		"POST /v1/revoke":                       map[string]string{"code": "x"},
	}
	routes := e.srv.Routes()
	if len(routes) != 21 {
		t.Errorf("%d routes; the table below assumes the contract's 20 and GET /v1/settings", len(routes))
	}
	for _, rt := range routes {
		for _, role := range []store.Role{"", store.RoleAdmin, store.RoleRegistrar, store.RoleAuditor} {
			name := rt.Method + " " + rt.Pattern + " as " + string(role)
			if role == "" {
				name += "nobody"
			}
			t.Run(name, func(t *testing.T) {
				r := e.do(t, call{method: rt.Method, path: fill.Replace(rt.Pattern), role: role, body: bodies[rt.Method+" "+rt.Pattern], invalidRequest: true})
				switch {
				case len(rt.Roles) == 0:
					if r.status == 401 || r.status == 403 {
						t.Errorf("public route answered %d", r.status)
					}
				case role == "":
					if r.status != 401 || r.errCode() != "unauthenticated" {
						t.Errorf("no token: %d %s, want 401 unauthenticated", r.status, r.errCode())
					}
				case slices.Contains(rt.Roles, role):
					if r.status == 401 || r.status == 403 {
						t.Errorf("allowed role refused: %d %s", r.status, r.body)
					}
				default:
					if r.status != 403 || r.errCode() != "forbidden" {
						t.Errorf("role %s: %d %s, want 403 forbidden", role, r.status, r.errCode())
					}
				}
			})
		}
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	reg := e.register(t)
	key := catest.Key(t, gost.CurveTC26256A)
	good := csrB64(t, key)
	other := catest.CSR(t, catest.Key(t, gost.CurveTC26256A))
	mine := catest.CSR(t, key)
	otherSig, _ := pki.ParseCertificateRequest(other)
	mineSig, _ := pki.ParseCertificateRequest(mine)
	forged := base64.StdEncoding.EncodeToString(bytes.Replace(mine, mineSig.Signature, otherSig.Signature, 1))

	certs, head := e.certCount(t), e.auditHead(t)
	for _, tc := range []struct {
		name   string
		c      call
		status int
		code   string
		field  string
	}{
		{"bad JSON", call{method: "POST", path: "/v1/enroll", body: []byte(`{"code":`)}, 400, "bad_json", ""},
		{"two JSON values", call{method: "POST", path: "/v1/enroll", body: []byte(`{"code":"a","csr":"b"} {}`)}, 400, "bad_json", ""},
		{"unknown field", call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": good, "subject": "CN=me"}}, 400, "bad_json", "subject"},
		{"wrong type", call{method: "POST", path: "/v1/enroll", body: map[string]any{"code": 5, "csr": good}}, 400, "bad_json", "code"},
		{"wrong content type", call{method: "POST", path: "/v1/enroll", body: []byte(`{}`), contentType: "text/plain"}, 415, "unsupported_media_type", ""},
		{"no content type", call{method: "POST", path: "/v1/orders", role: store.RoleRegistrar, body: []byte(`{}`), contentType: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"oversized body", call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": strings.Repeat("A", 20<<10)}}, 413, "body_too_large", ""},
		{"bad SNILS", call{method: "POST", path: "/v1/orders", role: store.RoleRegistrar, body: func() map[string]string { a := applicant(); a["snils"] = "11223344596"; return a }()}, 422, "invalid_field", "snils"},
		{"bad INN", call{method: "POST", path: "/v1/orders", role: store.RoleRegistrar, body: func() map[string]string { a := applicant(); a["inn"] = "500100732250"; return a }()}, 422, "invalid_field", "inn"},
		{"CSR signed by another key", call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": forged}}, 422, "csr_signature", "csr"},
		{"CSR not base64", call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": "***"}}, 422, "invalid_field", "csr"},
		{"mistyped code", call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": mistype(reg["code"]), "csr": good}}, 422, "code_mistyped", "code"},
		{"unknown endpoint", call{method: "GET", path: "/v1/nothing", unlisted: true}, 404, "not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.invalidRequest = true
			r := e.want(t, tc.c, tc.status, tc.code)
			if r.errField() != tc.field {
				t.Errorf("field %q, want %q", r.errField(), tc.field)
			}
		})
	}
	if n, h := e.certCount(t), e.auditHead(t); n != certs || h != head {
		t.Errorf("refused requests changed state: %d→%d certificates, audit head %d→%d", certs, n, head, h)
	}
	var o map[string]any
	_ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/orders/" + reg["order_id"], role: store.RoleAuditor}, 200, "").body, &o)
	if o["status"] != "pending" || o["failures"] != float64(0) {
		t.Errorf("order after refusals: %v", o)
	}
	// The order still works.
	e.want(t, call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": good}}, 201, "")
}

func mistype(code string) string {
	b := []byte(code)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}

func TestEnrollOverHTTP(t *testing.T) {
	e := newEnv(t)
	reg := e.register(t)
	if !strings.HasPrefix(reg["link"], "gostkey://enroll?") {
		t.Errorf("link %q", reg["link"])
	}
	png, err := base64.StdEncoding.DecodeString(reg["qr_png"])
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Error("qr_png is not a base64 PNG")
	}
	key := catest.Key(t, gost.CurveTC26256A)
	r := e.want(t, call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": csrB64(t, key)}}, 201, "")
	var out issued
	_ = json.Unmarshal(r.body, &out)
	certs, err := pki.ParseCertificates([]byte(out.Certificate))
	if err != nil || len(certs) != 1 || len(out.Chain) != 2 {
		t.Fatalf("certificate %v, chain %d", err, len(out.Chain))
	}
	if _, err := certs[0].Verify(pki.VerifyOptions{Roots: []*pki.Certificate{e.Root}, Intermediates: []*pki.Certificate{e.Issuing}, CurrentTime: e.Clock.Now()}); err != nil {
		t.Error(err)
	}
	// The second redemption is refused.
	e.want(t, call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": reg["code"], "csr": csrB64(t, catest.Key(t, gost.CurveTC26256A))}}, 409, "code_used")

	var o map[string]any
	_ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/orders/" + reg["order_id"], role: store.RoleRegistrar}, 200, "").body, &o)
	if o["status"] != "redeemed" || o["certificate_serial"] != out.Serial {
		t.Errorf("order %v", o)
	}
	var c map[string]any
	_ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/certificates/" + out.Serial, role: store.RoleAuditor}, 200, "").body, &c)
	if c["status"] != "valid" || !strings.Contains(c["subject"].(string), "Иванов") {
		t.Errorf("certificate %v", c)
	}
	e.want(t, call{method: "POST", path: "/v1/orders/" + reg["order_id"] + "/cancel", role: store.RoleRegistrar}, 409, "conflict")

	// Secrets never reach the log.
	logs := e.logs.String()
	for _, secret := range []string{reg["code"], e.tokens[store.RoleRegistrar], e.tokens[store.RoleAuditor]} {
		if strings.Contains(logs, secret) {
			t.Error("a secret is in the request log")
		}
	}
	if n := strings.Count(logs, `"msg":"request"`); n < 5 {
		t.Errorf("%d request log lines", n)
	}
}

func TestConcurrentRedemptionOverHTTP(t *testing.T) {
	e := newEnv(t)
	reg := e.register(t)
	const n = 20
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]string{"code": reg["code"], "csr": csrB64(t, catest.Key(t, gost.CurveTC26256A))})
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := http.Post(e.ts.URL+"/v1/enroll", "application/json", bytes.NewReader(bodies[i]))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	created, used := 0, 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
			used++
		}
	}
	if created != 1 || used != n-1 || e.certCount(t) != 1 {
		t.Errorf("statuses %v; %d certificates; want one 201, %d 409, one certificate", statuses, e.certCount(t), n-1)
	}
}

func TestRenewalOverHTTP(t *testing.T) {
	e := newEnv(t)
	key := catest.Key(t, gost.CurveTC26256A)
	out := e.enroll(t, key)
	certs, _ := pki.ParseCertificates([]byte(out.Certificate))
	cur := certs[0]
	renew := func(newKey *gost.PrivateKey) call {
		sd, err := cms.Sign(bytes.NewReader(catest.CSR(t, newKey)), key, cur, &cms.SignOptions{SigningTime: e.Clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return call{method: "POST", path: "/v1/renew", body: map[string]string{"request": base64.StdEncoding.EncodeToString(sd)}}
	}
	e.Clock.Set(cur.NotAfter.Add(-40 * 24 * time.Hour))
	r := e.want(t, renew(catest.Key(t, gost.CurveTC26256A)), 409, "renewal_not_open")
	var b struct {
		Error struct {
			WindowOpensAt string `json:"window_opens_at"`
		}
	}
	_ = json.Unmarshal(r.body, &b)
	if b.Error.WindowOpensAt != cur.NotAfter.Add(-30*24*time.Hour).UTC().Format(time.RFC3339) {
		t.Errorf("window_opens_at %q", b.Error.WindowOpensAt)
	}
	e.Clock.Set(cur.NotAfter.Add(time.Second))
	e.want(t, renew(catest.Key(t, gost.CurveTC26256A)), 409, "certificate_expired")
	e.Clock.Set(cur.NotAfter.Add(-24 * time.Hour))
	r = e.want(t, renew(catest.Key(t, gost.CurveTC26256A)), 201, "")
	var succ issued
	_ = json.Unmarshal(r.body, &succ)
	var c map[string]any
	_ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/certificates/" + out.Serial, role: store.RoleRegistrar}, 200, "").body, &c)
	if c["successor"] != succ.Serial {
		t.Errorf("predecessor %v", c)
	}
}

func TestRevocationAndSearch(t *testing.T) {
	e := newEnv(t)
	a := e.enroll(t, catest.Key(t, gost.CurveTC26256A))
	b := e.enroll(t, catest.Key(t, gost.CurveTC26256A))
	e.want(t, call{method: "POST", path: "/v1/certificates/" + a.Serial + "/revoke", role: store.RoleRegistrar, body: map[string]string{"reason": "bogus"}, invalidRequest: true}, 422, "invalid_field")
	e.want(t, call{method: "POST", path: "/v1/certificates/" + a.Serial + "/revoke", role: store.RoleRegistrar, body: map[string]string{"reason": "keyCompromise"}}, 200, "")
	e.want(t, call{method: "POST", path: "/v1/certificates/" + a.Serial + "/revoke", role: store.RoleRegistrar, body: map[string]string{"reason": "keyCompromise"}}, 409, "conflict")
	e.want(t, call{method: "POST", path: "/v1/certificates/" + b.Serial + "/hold", role: store.RoleRegistrar}, 200, "")
	e.want(t, call{method: "POST", path: "/v1/certificates/" + b.Serial + "/release", role: store.RoleRegistrar}, 200, "")
	r := e.want(t, call{method: "POST", path: "/v1/certificates/" + b.Serial + "/revocation-code", role: store.RoleRegistrar}, 201, "")
	var rc map[string]string
	_ = json.Unmarshal(r.body, &rc)
	e.want(t, call{method: "POST", path: "/v1/revoke", body: map[string]string{"code": rc["code"], "reason": "cessationOfOperation"}}, 200, "")
	if n := e.CRL.N.Load(); n != 4 {
		t.Errorf("%d CRL reissues, want 4", n)
	}

	var page struct {
		Certificates []struct{ Serial, Status string }
		Next         string `json:"next_page_token"`
	}
	_ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/certificates?status=revoked&snils=11223344595", role: store.RoleAuditor}, 200, "").body, &page)
	if len(page.Certificates) != 2 {
		t.Errorf("revoked search: %+v", page)
	}
	_ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/certificates?limit=1", role: store.RoleAuditor}, 200, "").body, &page)
	if len(page.Certificates) != 1 || page.Next == "" {
		t.Fatalf("page 1: %+v", page)
	}
	first := page.Certificates[0].Serial
	_ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/certificates?limit=1&page_token=" + page.Next, role: store.RoleAuditor}, 200, "").body, &page)
	if len(page.Certificates) != 1 || page.Certificates[0].Serial == first {
		t.Errorf("page 2: %+v", page)
	}
	e.want(t, call{method: "GET", path: "/v1/certificates?expiring_within=soon", role: store.RoleAuditor, invalidRequest: true}, 422, "invalid_field")
}

func TestExpiringAndMetrics(t *testing.T) {
	e := newEnv(t)
	out := e.enroll(t, catest.Key(t, gost.CurveTC26256A))
	certs, _ := pki.ParseCertificates([]byte(out.Certificate))
	metric := func() string {
		r := e.want(t, call{method: "GET", path: "/metrics", role: store.RoleAuditor}, 200, "")
		for _, l := range strings.Split(string(r.body), "\n") {
			if strings.HasPrefix(l, `gostkey_ca_certificates_expiring{within="30d"}`) {
				return strings.Fields(l)[1]
			}
		}
		t.Fatalf("no expiring gauge in\n%s", r.body)
		return ""
	}
	var page struct{ Certificates []any }
	if _ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/certificates?expiring_within=30d", role: store.RoleAuditor}, 200, "").body, &page); len(page.Certificates) != 0 || metric() != "0" {
		t.Errorf("fresh certificate counted as expiring")
	}
	e.Clock.Set(certs[0].NotAfter.Add(-10 * 24 * time.Hour))
	if _ = json.Unmarshal(e.want(t, call{method: "GET", path: "/v1/certificates?expiring_within=30d", role: store.RoleAuditor}, 200, "").body, &page); len(page.Certificates) != 1 || metric() != "1" {
		t.Errorf("certificate 10 days from expiry not counted: %d, %s", len(page.Certificates), metric())
	}
}

func TestOperatorsOverHTTP(t *testing.T) {
	e := newEnv(t)
	r := e.want(t, call{method: "POST", path: "/v1/operators", role: store.RoleAdmin, body: map[string]string{"name": "carol", "role": "registrar"}}, 201, "")
	var op map[string]any
	_ = json.Unmarshal(r.body, &op)
	id := op["operator_id"].(string)
	r = e.want(t, call{method: "POST", path: "/v1/operators/" + id + "/tokens", role: store.RoleAdmin, body: map[string]any{"expires_in": "720h", "cidrs": []string{"127.0.0.0/8"}}}, 201, "")
	var tok map[string]any
	_ = json.Unmarshal(r.body, &tok)
	e.tokens["carol"] = tok["token"].(string)
	e.want(t, call{method: "POST", path: "/v1/orders", role: "carol", body: applicant()}, 201, "")
	e.want(t, call{method: "DELETE", path: "/v1/tokens/" + tok["token_id"].(string), role: store.RoleAdmin}, 204, "")
	e.want(t, call{method: "POST", path: "/v1/orders", role: "carol", body: applicant()}, 401, "unauthenticated")
	e.want(t, call{method: "POST", path: "/v1/operators", role: store.RoleAdmin, body: map[string]string{"name": "carol", "role": "auditor"}}, 409, "conflict")
	if r := e.want(t, call{method: "GET", path: "/v1/settings", role: store.RoleAdmin}, 200, ""); string(r.body) != `{"enrollment":{"code_ttl":"15m","max_failures":5}}`+"\n" {
		t.Errorf("settings: %s", r.body)
	}

	r = e.want(t, call{method: "GET", path: "/v1/audit?from=1", role: store.RoleAuditor}, 200, "")
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	var last struct{ Action string }
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last.Action != "auth.fail" {
		t.Errorf("last audit record %q, want auth.fail", last.Action)
	}
	m := string(e.want(t, call{method: "GET", path: "/metrics", role: store.RoleAuditor}, 200, "").body)
	if !strings.Contains(m, `gostkey_ca_http_requests_total{code="201",route="POST /v1/orders"} 1`) {
		t.Error("no request counter for the registration")
	}
	if !strings.Contains(m, `gostkey_ca_auth_failures_total{reason="revoked"} 1`) {
		t.Errorf("the revoked token's refusal is not counted:\n%s", m)
	}
}

func TestRateLimitsOverHTTP(t *testing.T) {
	e := newEnvWith(t, func(c *catest.CA) {
		en, err := ca.NewEnrollment(ca.EnrollmentConfig{}, ca.EnrollmentDeps{Store: c.Store, Journal: c.Journal, Hasher: c.Hasher,
			Issuer: c.Issuer, Limiter: ca.NewLimiter(2, 10*time.Minute, c.Clock.Now), Now: c.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		c.Enrollment = en
	})
	csr := csrB64(t, catest.Key(t, gost.CurveTC26256A))
	wrong := call{method: "POST", path: "/v1/enroll", body: map[string]string{"code": "0000-0000-0000-0", "csr": csr}}
	for range 2 {
		e.want(t, wrong, 404, "code_unknown")
	}
	r := e.want(t, wrong, 429, "rate_limited")
	if r.header.Get("Retry-After") != "600" {
		t.Errorf("Retry-After %q, want 600", r.header.Get("Retry-After"))
	}
	// Bad tokens: the per-address limit of Operators (100 in newEnv).
	e.tokens["bogus"] = "gsk_" + strings.Repeat("A", 43)
	for range 100 {
		e.want(t, call{method: "GET", path: "/v1/operators", role: "bogus"}, 401, "unauthenticated")
	}
	r = e.want(t, call{method: "GET", path: "/v1/operators", role: store.RoleAdmin}, 429, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

func TestHolderSignedRevocationOverHTTP(t *testing.T) {
	e := newEnv(t)
	key := catest.Key(t, gost.CurveTC26256A)
	out := e.enroll(t, key)
	certs, _ := pki.ParseCertificates([]byte(out.Certificate))
	content, _ := json.Marshal(map[string]any{"serial": out.Serial, "reason": "keyCompromise", "time": e.Clock.Now()})
	sd, err := cms.Sign(bytes.NewReader(content), key, certs[0], &cms.SignOptions{SigningTime: e.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]string{"request": base64.StdEncoding.EncodeToString(sd)}
	e.want(t, call{method: "POST", path: "/v1/revoke", body: map[string]string{"request": body["request"], "reason": "superseded"}, invalidRequest: true}, 422, "invalid_field")
	r := e.want(t, call{method: "POST", path: "/v1/revoke", body: body}, 200, "")
	var rv map[string]string
	_ = json.Unmarshal(r.body, &rv)
	if rv["serial"] != out.Serial || rv["status"] != "revoked" || rv["reason"] != "keyCompromise" {
		t.Errorf("revoked %v", rv)
	}
	e.want(t, call{method: "POST", path: "/v1/revoke", body: body}, 409, "conflict")
}

// openapi.json documents exactly the routes the server has, with the same
// roles (x-roles) and a bearer requirement where there are roles.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	documented := 0
	for _, item := range doc.Paths.Map() {
		documented += len(item.Operations())
	}
	routes := e.srv.Routes()
	if documented != len(routes) {
		t.Errorf("%d documented operations, %d routes", documented, len(routes))
	}
	for _, rt := range routes {
		item := doc.Paths.Find(rt.Pattern)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s %s is not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		op := item.GetOperation(rt.Method)
		var roles []string
		if raw, ok := op.Extensions["x-roles"]; ok {
			for _, r := range raw.([]any) {
				roles = append(roles, r.(string))
			}
		}
		var want []string
		for _, r := range rt.Roles {
			want = append(want, string(r))
		}
		if !slices.Equal(roles, want) {
			t.Errorf("%s %s: x-roles %v, server %v", rt.Method, rt.Pattern, roles, want)
		}
		secured := op.Security != nil && len(*op.Security) > 0
		if secured != (len(want) > 0) {
			t.Errorf("%s %s: security %v with roles %v", rt.Method, rt.Pattern, secured, want)
		}
	}
}
