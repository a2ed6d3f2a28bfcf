// Package config is gostkey-ca's configuration file, ca.json: strict (an
// unknown field is an error, not a silent default), with Validate naming
// the bad field by its JSON path. Relative paths in the file are relative
// to the file's directory, so a CA directory can move as a whole.
package config

import (
	"bytes"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as Go writes it ("15m", "720h") or
// in whole days ("30d").
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return json.Marshal(strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d")
	}
	return json.Marshal(td.String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a duration is a string such as \"15m\" or \"30d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads "30d" or a Go duration.
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return v, nil
}

// Config is ca.json.
type Config struct {
	// Listen is the HTTPS API's address; HTTPListen the plain-HTTP
	// publication listener's (CRLs, OCSP, CA certificates).
	Listen     string `json:"listen"`
	HTTPListen string `json:"http_listen"`
	// PublicHTTPURL is the base URL certificates point at (CRL DP, AIA);
	// APIURL the HTTPS URL enrollment links name.
	PublicHTTPURL string `json:"public_http_url"`
	APIURL        string `json:"api_url"`

	Database Database `json:"database"`
	Token    Token    `json:"token"`
	Keys     Keys     `json:"keys"`
	Certs    Certs    `json:"certs"`
	TLS      TLS      `json:"tls"`
	// CodeKeyFile holds the 32-byte key one-time codes are hashed with.
	CodeKeyFile string `json:"code_key_file"`

	Profile    Profile    `json:"profile"`
	Enrollment Enrollment `json:"enrollment"`
	Renewal    Renewal    `json:"renewal"`
	Revocation Revocation `json:"revocation"`
	Operators  Operators  `json:"operators"`
	CRL        CRL        `json:"crl"`
	OCSP       OCSP       `json:"ocsp"`
	Audit      Audit      `json:"audit"`
	// LogLevel: debug, info, warn or error.
	LogLevel string `json:"log_level"`

	dir string // the directory relative paths are taken from
}

// Database names the store.
type Database struct {
	Driver string `json:"driver"`        // "sqlite" (default) or "postgres"
	Path   string `json:"path"`          // sqlite file
	DSN    string `json:"dsn,omitempty"` // postgres connection string
}

// Token is the PKCS#11 token holding the CA's keys.
type Token struct {
	Module string `json:"module"`
	// SoftTokenDir, when set, is the softtoken's store directory
	// (GOSTKEY_SOFTTOKEN_DIR for the module); "" leaves the module's
	// environment alone (another module, or a softtoken kept elsewhere).
	SoftTokenDir string `json:"softtoken_dir"`
	// Label is the token's label or a pkcs11: URI.
	Label   string `json:"label"`
	PINFile string `json:"pin_file"`
}

// Keys are the labels of the keys on the token.
type Keys struct {
	Root    string `json:"root"`
	Issuing string `json:"issuing"`
	OCSP    string `json:"ocsp"`
	TLS     string `json:"tls"`
}

// Certs are the certificate files (PEM) of those keys.
type Certs struct {
	Root    string `json:"root"`
	Issuing string `json:"issuing"`
	OCSP    string `json:"ocsp"`
}

// TLS is the API's certificate: Cert the leaf (PEM, its key Keys.TLS on
// the token), Root the local TLS root clients trust.
type TLS struct {
	Cert string `json:"cert"`
	Root string `json:"root"`
}

// Profile is the leaf certificate profile.
type Profile struct {
	Validity        Duration       `json:"validity"`
	SubjectSignTool string         `json:"subject_sign_tool"`
	IssuerSignTool  IssuerSignTool `json:"issuer_sign_tool"`
	// Policies are certificate policy OIDs, dotted; default КС1.
	Policies []string `json:"policies"`
}

// IssuerSignTool is the issuerSignTool extension's four names.
type IssuerSignTool struct {
	SignTool     string `json:"sign_tool"`
	CATool       string `json:"ca_tool"`
	SignToolCert string `json:"sign_tool_cert"`
	CAToolCert   string `json:"ca_tool_cert"`
}

// Enrollment configures codes and redemption.
type Enrollment struct {
	CodeTTL     Duration `json:"code_ttl"`
	MaxFailures int      `json:"max_failures"`
	// ClientFailures refused requests within ClientWindow rate-limit a
	// client address (enrollment, renewal and holder revocation).
	ClientFailures int      `json:"client_failures"`
	ClientWindow   Duration `json:"client_window"`
}

// Renewal configures renewal.
type Renewal struct {
	Window Duration `json:"window"`
	// RevokeSupersededAfter 0: revoke the predecessor at its own expiry.
	RevokeSupersededAfter Duration `json:"revoke_superseded_after"`
	ProofMaxAge           Duration `json:"proof_max_age"`
}

// Revocation configures lost-token codes.
type Revocation struct {
	CodeTTL Duration `json:"code_ttl"`
}

// Operators configures API tokens and authentication limits.
type Operators struct {
	MaxTokenLifetime Duration `json:"max_token_lifetime"`
	AuthFailures     int      `json:"auth_failures"`
	AuthWindow       Duration `json:"auth_window"`
}

// CRL configures CRL publication: nextUpdate − thisUpdate of each CRL
// (reissued at half of it, and after every revocation).
type CRL struct {
	Validity Duration `json:"validity"`
}

// OCSP configures the responder: how long a client may cache an answer.
type OCSP struct {
	Validity Duration `json:"validity"`
}

// Audit configures the journal.
type Audit struct {
	// CheckpointEvery records between signed checkpoints.
	CheckpointEvery uint64 `json:"checkpoint_every"`
}

// Default is a configuration with every default filled in and the paths
// gostkey-ca init writes.
func Default() *Config {
	return &Config{
		Listen: "127.0.0.1:8443", HTTPListen: "127.0.0.1:8089",
		PublicHTTPURL: "http://127.0.0.1:8089", APIURL: "https://127.0.0.1:8443",
		Database:    Database{Driver: "sqlite", Path: "ca.db"},
		Token:       Token{SoftTokenDir: "softtoken", Label: "gostkey-ca", PINFile: "token.pin"},
		Keys:        Keys{Root: "root", Issuing: "issuing", OCSP: "ocsp", TLS: "tls"},
		Certs:       Certs{Root: "root.pem", Issuing: "issuing.pem", OCSP: "ocsp.pem"},
		TLS:         TLS{Cert: "tls.pem", Root: "tls-root.pem"},
		CodeKeyFile: "code.key",
		Profile: Profile{
			Validity:        Duration(365 * 24 * time.Hour),
			SubjectSignTool: "gostkey (softtoken)",
			IssuerSignTool:  IssuerSignTool{SignTool: "gostkey", CATool: "gostkey-ca", SignToolCert: "not certified", CAToolCert: "not certified"},
			Policies:        []string{"1.2.643.100.113.1"},
		},
		Enrollment: Enrollment{CodeTTL: Duration(15 * time.Minute), MaxFailures: 5, ClientFailures: 20, ClientWindow: Duration(15 * time.Minute)},
		Renewal:    Renewal{Window: Duration(30 * 24 * time.Hour), ProofMaxAge: Duration(5 * time.Minute)},
		Revocation: Revocation{CodeTTL: Duration(7 * 24 * time.Hour)},
		Operators:  Operators{MaxTokenLifetime: Duration(365 * 24 * time.Hour), AuthFailures: 10, AuthWindow: Duration(5 * time.Minute)},
		CRL:        CRL{Validity: Duration(24 * time.Hour)},
		OCSP:       OCSP{Validity: Duration(time.Hour)},
		Audit:      Audit{CheckpointEvery: 1000},
		LogLevel:   "info",
	}
}

// Load reads and validates path. Fields the file leaves out keep
// Default's values; an unknown field, a second JSON value or a bad value
// is an error naming it.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.dir = filepath.Dir(abs)
	return c, nil
}

// Parse reads and validates a ca.json's bytes.
func Parse(b []byte) (*Config, error) {
	if f := unknownField(b, reflect.TypeFor[Config](), ""); f != "" {
		return nil, &FieldError{Field: f, Reason: "unknown field"}
	}
	c := Default()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeError(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return &FieldError{Field: ute.Field, Reason: "wrong JSON type"}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FieldError{Field: strings.Trim(f, `"`), Reason: "unknown field"}
	}
	return err
}

// unknownField walks the JSON against t and returns the path of the first
// object key t has no field for (encoding/json names only the key).
func unknownField(b []byte, t reflect.Type, prefix string) string {
	if t.Kind() != reflect.Struct {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return "" // not an object: the decoder reports the type error
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ft, ok := fields[k]
		if !ok {
			return prefix + k
		}
		if f := unknownField(obj[k], ft, prefix+k+"."); f != "" {
			return f
		}
	}
	return ""
}

// FieldError is a bad configuration value, named by its JSON path.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Validate checks every field; the error names the first bad one.
func (c *Config) Validate() error {
	bad := func(field, reason string) error { return &FieldError{field, reason} }
	for _, a := range []struct{ field, v string }{{"listen", c.Listen}, {"http_listen", c.HTTPListen}} {
		if _, port, err := net.SplitHostPort(a.v); err != nil || port == "" {
			return bad(a.field, "want host:port")
		}
	}
	if u, err := url.Parse(c.PublicHTTPURL); err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return bad("public_http_url", "want http://host[:port]")
	}
	if u, err := url.Parse(c.APIURL); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		return bad("api_url", "want https://host[:port]")
	}
	switch c.Database.Driver {
	case "sqlite":
		if c.Database.Path == "" {
			return bad("database.path", "required for sqlite")
		}
	case "postgres":
		if c.Database.DSN == "" {
			return bad("database.dsn", "required for postgres")
		}
	default:
		return bad("database.driver", "sqlite or postgres")
	}
	for _, r := range []struct{ field, v string }{
		{"token.module", c.Token.Module}, {"token.label", c.Token.Label}, {"token.pin_file", c.Token.PINFile},
		{"keys.root", c.Keys.Root}, {"keys.issuing", c.Keys.Issuing}, {"keys.ocsp", c.Keys.OCSP}, {"keys.tls", c.Keys.TLS},
		{"certs.root", c.Certs.Root}, {"certs.issuing", c.Certs.Issuing}, {"certs.ocsp", c.Certs.OCSP},
		{"tls.cert", c.TLS.Cert}, {"tls.root", c.TLS.Root}, {"code_key_file", c.CodeKeyFile},
		{"profile.subject_sign_tool", c.Profile.SubjectSignTool},
		{"profile.issuer_sign_tool.sign_tool", c.Profile.IssuerSignTool.SignTool},
		{"profile.issuer_sign_tool.ca_tool", c.Profile.IssuerSignTool.CATool},
		{"profile.issuer_sign_tool.sign_tool_cert", c.Profile.IssuerSignTool.SignToolCert},
		{"profile.issuer_sign_tool.ca_tool_cert", c.Profile.IssuerSignTool.CAToolCert},
	} {
		if strings.TrimSpace(r.v) == "" {
			return bad(r.field, "required")
		}
	}
	if _, err := c.PolicyOIDs(); err != nil {
		return bad("profile.policies", err.Error())
	}
	for _, d := range []struct {
		field    string
		v        Duration
		min, max time.Duration
	}{
		{"profile.validity", c.Profile.Validity, 24 * time.Hour, 5 * 365 * 24 * time.Hour},
		{"enrollment.code_ttl", c.Enrollment.CodeTTL, time.Minute, 30 * 24 * time.Hour},
		{"enrollment.client_window", c.Enrollment.ClientWindow, time.Second, 24 * time.Hour},
		{"renewal.window", c.Renewal.Window, time.Hour, c.Profile.Validity.D()},
		{"renewal.revoke_superseded_after", c.Renewal.RevokeSupersededAfter, 0, c.Profile.Validity.D()},
		{"renewal.proof_max_age", c.Renewal.ProofMaxAge, 10 * time.Second, time.Hour},
		{"revocation.code_ttl", c.Revocation.CodeTTL, time.Minute, 365 * 24 * time.Hour},
		{"operators.max_token_lifetime", c.Operators.MaxTokenLifetime, time.Minute, 10 * 365 * 24 * time.Hour},
		{"operators.auth_window", c.Operators.AuthWindow, time.Second, 24 * time.Hour},
		{"crl.validity", c.CRL.Validity, 10 * time.Minute, 30 * 24 * time.Hour},
		{"ocsp.validity", c.OCSP.Validity, time.Minute, 7 * 24 * time.Hour},
	} {
		if d.v.D() < d.min || d.v.D() > d.max {
			return bad(d.field, fmt.Sprintf("want %v to %v", d.min, d.max))
		}
	}
	for _, n := range []struct {
		field string
		v     int
	}{{"enrollment.max_failures", c.Enrollment.MaxFailures}, {"enrollment.client_failures", c.Enrollment.ClientFailures}, {"operators.auth_failures", c.Operators.AuthFailures}} {
		if n.v < 1 || n.v > 10000 {
			return bad(n.field, "want 1 to 10000")
		}
	}
	if c.Audit.CheckpointEvery < 1 {
		return bad("audit.checkpoint_every", "want at least 1")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "debug, info, warn or error")
	}
	return nil
}

// PolicyOIDs parses profile.policies.
func (c *Config) PolicyOIDs() ([]asn1.ObjectIdentifier, error) {
	if len(c.Profile.Policies) == 0 {
		return nil, errors.New("at least one policy")
	}
	var out []asn1.ObjectIdentifier
	for _, p := range c.Profile.Policies {
		var oid asn1.ObjectIdentifier
		for _, part := range strings.Split(p, ".") {
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%q is not a dotted OID", p)
			}
			oid = append(oid, n)
		}
		if len(oid) < 2 {
			return nil, fmt.Errorf("%q is not a dotted OID", p)
		}
		out = append(out, oid)
	}
	return out, nil
}

// Path resolves a path from the file against the file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Dir is the directory of the loaded file.
func (c *Config) Dir() string { return c.dir }

// Write stores c at path (0600: it names the PIN file and key files),
// refusing to replace an existing file.
func (c *Config) Write(path string) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
