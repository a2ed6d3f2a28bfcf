// Package client is a typed HTTPS client for the gostkey CA's API
// (ca/api, described by its /openapi.json): registration, enrollment,
// renewal, revocation, certificate search, operators and tokens, the audit
// export. The gostkey CLI and the agent use it.
//
// Every call takes a context. Refusals come back as *APIError with the
// server's stable code. Response bodies are read up to MaxResponse (the
// audit export, streamed, excepted). Secrets (activation codes, API tokens)
// travel in request bodies and the Authorization header only, are typed
// (code.Secret, code.Token) so that they print as masks, and never appear
// in an error this package returns.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca/code"
)

// MaxResponse bounds a JSON response body: a search page of 1000
// certificates with their PEM is about 3 MB.
const MaxResponse = 8 << 20

// DefaultTimeout bounds a whole request on the http.Client New makes.
const DefaultTimeout = time.Minute

// Client calls one CA. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	http  *http.Client
	token code.Token
}

// New returns a client for the CA whose HTTPS API is at baseURL (the
// api_url of its ca.json, e.g. https://127.0.0.1:8443). tlsRoots are the
// roots the API's TLS certificate must chain to (the CA's DIR/tls-root.pem;
// nil: the system roots); they configure the http.Client New makes when
// httpClient is nil, and a given httpClient is used as it is. token
// authenticates operator calls; the zero Token sends none (enrollment and
// renewal need none).
func New(baseURL string, tlsRoots *x509.CertPool, token code.Token, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: CA URL %q: want https://HOST[:PORT][/PATH]", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if httpClient == nil {
		httpClient = &http.Client{
			Timeout: DefaultTimeout,
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				TLSClientConfig:     &tls.Config{RootCAs: tlsRoots, MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout: 10 * time.Second,
				ForceAttemptHTTP2:   true,
			},
		}
	}
	return &Client{base: u, http: httpClient, token: token}, nil
}

// LoadRoots reads TLS roots from a PEM file (gostkey-ca init's
// DIR/tls-root.pem).
func LoadRoots(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client: %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// APIError is a refusal from the CA: the HTTP status and the error object
// of the body. Code is the server's stable snake_case code (code_used,
// renewal_not_open, …); Message is safe to show; Field names the JSON field
// or query parameter at fault. RetryAfter comes from the Retry-After header
// (429); WindowOpensAt from renewal_not_open.
type APIError struct {
	Status        int
	Code          string
	Message       string
	Field         string
	RetryAfter    time.Duration
	WindowOpensAt time.Time
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the CA refused (%d %s)", e.Status, e.Code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Field != "" && !strings.Contains(e.Message, e.Field) {
		b.WriteString(" (field " + e.Field + ")")
	}
	if !e.WindowOpensAt.IsZero() && !strings.Contains(e.Message, e.WindowOpensAt.UTC().Format(time.RFC3339)) {
		b.WriteString("; the renewal window opens at " + e.WindowOpensAt.UTC().Format(time.RFC3339))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	return b.String()
}

// IsCode reports whether err is an *APIError with the given code.
func IsCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == code
}

// errBody is the error object of every refusal (ca/api errors.go).
type errBody struct {
	Error struct {
		Code          string `json:"code"`
		Message       string `json:"message"`
		Field         string `json:"field"`
		WindowOpensAt string `json:"window_opens_at"`
	} `json:"error"`
}

// call sends one request. body, when not nil, goes as JSON; a 2xx answer
// with a JSON body is decoded into out (when not nil). auth adds the
// operator's token.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any, auth bool) error {
	resp, err := c.send(ctx, method, path, query, body, auth)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponse))
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("client: %s %s: answer is %q, not JSON", method, path, resp.Header.Get("Content-Type"))
	}
	b, err := readBounded(resp.Body)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: %s %s: malformed answer: %w", method, path, err)
	}
	return nil
}

// send makes the request and turns a non-2xx answer into *APIError; the
// caller closes the body of the answer it gets.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any, auth bool) (*http.Response, error) {
	// path is built with its segments escaped (seg).
	u, err := url.Parse(c.base.String() + path)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if auth {
		tok := c.token.Reveal()
		if tok == "" {
			return nil, errors.New("client: this call needs an operator API token")
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err // *url.Error: method, URL and cause; no body, no header
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, apiError(resp)
}

func readBounded(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxResponse+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxResponse {
		return nil, fmt.Errorf("answer larger than %d bytes", MaxResponse)
	}
	return b, nil
}

func apiError(resp *http.Response) *APIError {
	e := &APIError{Status: resp.StatusCode}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			e.RetryAfter = max(time.Until(t).Round(time.Second), 0)
		}
	}
	// A short read: the error object is small, and what is not JSON (a
	// proxy's HTML page) only needs its status.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb errBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message, e.Field = eb.Error.Code, eb.Error.Message, eb.Error.Field
		if t, err := time.Parse(time.RFC3339, eb.Error.WindowOpensAt); err == nil {
			e.WindowOpensAt = t
		}
		return e
	}
	e.Code = strings.ReplaceAll(strings.ToLower(http.StatusText(resp.StatusCode)), " ", "_")
	if e.Code == "" {
		e.Code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	e.Message = "the answer carried no error object"
	return e
}

// seg escapes one path segment (an order ID, a serial).
func seg(s string) string { return url.PathEscape(s) }

// parseTime reads the RFC 3339 times of the API; "" is the zero time.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("client: malformed %s in the answer: %w", field, err)
	}
	return t, nil
}
