package main

import (
	"strings"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pkcs11"
)

// The shipped example must load as it stands.
func TestExampleConfig(t *testing.T) {
	c, err := loadConfig("config.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Modules) != 3 || c.Modules[0].Path != "/usr/lib/librtpkcs11ecp.so" {
		t.Fatalf("modules = %+v", c.Modules)
	}
	if got := c.module("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so").options().GOSTDigestOrder; got != pkcs11.DigestReversed {
		t.Errorf("OpenSC digest order = %v, want reversed", got)
	}
	if got := c.module("/usr/lib/librtpkcs11ecp.so").options().GOSTDigestOrder; got != pkcs11.DigestAsHashed {
		t.Errorf("Rutoken digest order = %v, want as hashed", got)
	}
	if got := c.module("/elsewhere.so"); got.Path != "/elsewhere.so" || got.GOSTDigestOrder != "" {
		t.Errorf("an unconfigured module = %+v, want defaults", got)
	}
	// The root's path is relative to the config file.
	if len(c.rootCerts) != 1 || !strings.Contains(c.rootCerts[0].Subject.CommonName, "example root") {
		t.Errorf("roots = %v, want the example root", c.rootCerts)
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct{ json, err string }{
		{`{"modules": ["a.so"], "modulez": []}`, `unknown field "modulez"`},
		{`{"modules": [{"path": "a.so", "digest": "reversed"}]}`, `unknown field "digest"`},
		{`{"modules": [{"path": "a.so", "gost_digest_order": "backwards"}]}`, `modules[0].gost_digest_order: "backwards"`},
		{`{"modules": [{"gost_digest_order": "reversed"}]}`, `modules[0].path: empty`},
		{`{"modules": [7]}`, `cannot unmarshal number`},
		{`{"modules": []} {}`, `data after the JSON object`},
		{`{"roots": [""]}`, `roots[0]: empty`},
		{`{"roots": ["/nonexistent/root.pem"]}`, `roots[0]: open /nonexistent/root.pem: no such file or directory`},
		{`{"roots": ["config.json"]}`, `config.json: not a certificate (text, neither PEM nor DER)`},
		{`{"roots": "a.pem"}`, `cannot unmarshal string`},
	} {
		_, err := loadConfig(testkit.WriteFile(t, "config.json", []byte(tc.json)))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want it to contain %q", tc.json, err, tc.err)
		}
	}
	if c, err := loadConfig("/nonexistent/config.json"); err != nil || len(c.Modules) != 0 {
		t.Errorf("a missing config file: %v, %v; want an empty config", c, err)
	}
}
