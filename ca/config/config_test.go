package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every shipped example loads, and equals the defaults it spells out.
func TestShippedExample(t *testing.T) {
	c, err := Load("ca.example.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Token.Module = "/usr/lib/gostkey/libgostkey-softtoken.so"
	c.dir = ""
	if !reflect.DeepEqual(c, want) {
		t.Errorf("example differs from the defaults:\n%+v\n%+v", c, want)
	}
}

func TestStrict(t *testing.T) {
	base, err := os.ReadFile("ca.example.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to, field string
	}{
		{"unknown top-level field", `"log_level"`, `"colour": 1, "log_level"`, "colour"},
		{"unknown nested field", `"code_ttl": "15m"`, `"code_tll": "15m"`, "enrollment.code_tll"},
		{"bad duration", `"code_ttl": "15m"`, `"code_ttl": "fifteen"`, ""},
		{"too short", `"code_ttl": "15m"`, `"code_ttl": "10s"`, "enrollment.code_ttl"},
		{"wrong type", `"max_failures": 5`, `"max_failures": "5"`, "enrollment.max_failures"},
		{"zero failures", `"max_failures": 5`, `"max_failures": 0`, "enrollment.max_failures"},
		{"bad listen", `"listen": "127.0.0.1:8443"`, `"listen": "8443"`, "listen"},
		{"https publication URL", `"public_http_url": "http://127.0.0.1:8089"`, `"public_http_url": "https://127.0.0.1:8089"`, "public_http_url"},
		{"bad driver", `"driver": "sqlite"`, `"driver": "mysql"`, "database.driver"},
		{"no module", `"module": "/usr/lib/gostkey/libgostkey-softtoken.so"`, `"module": ""`, "token.module"},
		{"bad policy", `"1.2.643.100.113.1"`, `"KC1"`, "profile.policies"},
		{"window longer than validity", `"window": "30d"`, `"window": "400d"`, "renewal.window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := strings.Replace(string(base), tc.from, tc.to, 1)
			if edited == string(base) {
				t.Fatal("edit did not apply")
			}
			_, err := Parse([]byte(edited))
			if err == nil {
				t.Fatal("accepted")
			}
			var fe *FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Errorf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
	if _, err := Parse(append(base, []byte("{}")...)); err == nil {
		t.Error("a second JSON value was accepted")
	}
}

func TestWriteAndPaths(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Token.Module = "/m.so"
	c.Renewal.Window = Duration(10 * 24 * time.Hour)
	p := filepath.Join(dir, "ca.json")
	if err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(p); err == nil {
		t.Error("Write replaced an existing file")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Renewal.Window.D() != 10*24*time.Hour || got.Path("ca.db") != filepath.Join(dir, "ca.db") || got.Path("/abs") != "/abs" {
		t.Errorf("round trip: %+v", got)
	}
}
