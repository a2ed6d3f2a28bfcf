package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"
)

// FuzzConfig feeds the strict config decoder arbitrary JSON: it must
// never panic, and whatever it accepts must be valid and survive a
// round trip through its own encoding unchanged.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile("config.example.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		`{}`, `{"modules": ["a.so"]}`, `{"modules": [{"path": "a.so", "gost_digest_order": "reversed"}]}`,
		`{"roots": ["testdata/example-root.pem"]}`, `{"roots": [""]}`, `{"modules": [7]}`, `{"modules": []} {}`,
		`{"modules": [{"path": "a.so", "x": 1}]}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data, ".")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseConfig(out, ".")
		if err != nil {
			t.Fatalf("own encoding %s refused: %v", out, err)
		}
		if !reflect.DeepEqual(normalized(c), normalized(again)) {
			t.Fatalf("round trip changed %+v into %+v", c, again)
		}
	})
}

// normalized makes nil and empty lists alike, which JSON does not tell apart.
func normalized(c *config) config {
	n := *c
	if len(n.Modules) == 0 {
		n.Modules = nil
	}
	if len(n.Roots) == 0 {
		n.Roots = nil
	}
	n.rootCerts = nil
	return n
}

var byteOffset = regexp.MustCompile(`at byte (\d+)`)

// FuzzEncodingProblem runs the CLI's reader of PEM and DER input over
// arbitrary bytes: it must never panic, name only offsets inside the
// input, and find nothing wrong with the encoding of a sound certificate.
func FuzzEncodingProblem(f *testing.F) {
	pemData, err := os.ReadFile(filepath.Join("testdata", "example-root.pem"))
	if err != nil {
		f.Fatal(err)
	}
	block, _ := pem.Decode(pemData)
	if block == nil {
		f.Fatal("testdata/example-root.pem: no PEM block")
	}
	if p := encodingProblem(block.Bytes); p != "" {
		f.Fatalf("a sound certificate: %s", p)
	}
	if p := encodingProblem(pemData); p != "" {
		f.Fatalf("a sound PEM certificate: %s", p)
	}
	f.Add(pemData)
	f.Add(block.Bytes)
	f.Add(block.Bytes[:len(block.Bytes)/2])
	f.Add(append(bytes.Clone(block.Bytes), 0))
	f.Add([]byte("\x30\x80\x02\x01\x01\x00\x00"))
	f.Add([]byte("\x30\x84\xff\xff\xff\xff"))
	f.Add([]byte("hello\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := encodingProblem(data)
		for _, m := range byteOffset.FindAllStringSubmatch(p, -1) {
			n, err := strconv.Atoi(m[1])
			if err != nil || n > len(data) {
				t.Fatalf("%q: offset %s outside the %d-byte input", p, m[1], len(data))
			}
		}
		if p != encodingProblem(data) {
			t.Fatal("not deterministic")
		}
	})
}
