package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

// config is the optional user configuration file: $GOSTKEY_CONFIG, else
// config.json in the user's config directory (~/.config/gostkey). Unknown
// fields are errors, so a typo never silently falls back to a default.
type config struct {
	// Modules are used when no --module is given, in this order.
	Modules []moduleConfig `json:"modules"`
	// Roots are PEM files of trusted root certificates, used by verify
	// when no --ca is given. A relative path is relative to the config
	// file's directory.
	Roots []string `json:"roots"`

	// rootCerts are the certificates of Roots, read when the file is
	// loaded so that a missing or broken root file is found at once.
	rootCerts []*pki.Certificate
}

// moduleConfig names a PKCS#11 module: a plain path, or an object with
// the module's own settings.
type moduleConfig struct {
	Path string `json:"path"`
	// GOSTDigestOrder is the byte order in which the module wants the
	// digest for CKM_GOSTR3410: "as-hashed" (the default: Rutoken,
	// SoftHSM2, the softtoken) or "reversed" (OpenSC's PKCS#15 driver).
	GOSTDigestOrder string `json:"gost_digest_order,omitempty"`
}

var digestOrders = map[string]pkcs11.DigestOrder{
	"":          pkcs11.DigestAsHashed,
	"as-hashed": pkcs11.DigestAsHashed,
	"reversed":  pkcs11.DigestReversed,
}

func (mc *moduleConfig) UnmarshalJSON(b []byte) error {
	var path string
	if err := json.Unmarshal(b, &path); err == nil {
		*mc = moduleConfig{Path: path}
		return nil
	}
	type fields moduleConfig // without this method, to decode the object
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f fields
	if err := dec.Decode(&f); err != nil {
		return err
	}
	*mc = moduleConfig(f)
	return nil
}

func (mc moduleConfig) options() pkcs11.Options {
	return pkcs11.Options{GOSTDigestOrder: digestOrders[mc.GOSTDigestOrder]}
}

// Validate names the first bad field.
func (c *config) Validate() error {
	for i, mc := range c.Modules {
		if mc.Path == "" {
			return fmt.Errorf("modules[%d].path: empty", i)
		}
		if _, ok := digestOrders[mc.GOSTDigestOrder]; !ok {
			return fmt.Errorf("modules[%d].gost_digest_order: %q is neither \"as-hashed\" nor \"reversed\"", i, mc.GOSTDigestOrder)
		}
	}
	for i, r := range c.Roots {
		if r == "" {
			return fmt.Errorf("roots[%d]: empty", i)
		}
	}
	return nil
}

// module is the configured entry for path, or a bare one with defaults.
func (c *config) module(path string) moduleConfig {
	for _, mc := range c.Modules {
		if filepath.Clean(mc.Path) == filepath.Clean(path) {
			return mc
		}
	}
	return moduleConfig{Path: path}
}

func configPath() string {
	if p := os.Getenv("GOSTKEY_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gostkey", "config.json")
}

// loadConfig reads the configuration; a missing file is an empty one.
func loadConfig(path string) (*config, error) {
	if path == "" {
		return &config{}, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := parseConfig(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// parseConfig decodes and validates a configuration; relative root paths
// are taken from dir.
func parseConfig(data []byte, dir string) (*config, error) {
	var c config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.loadRoots(dir); err != nil {
		return nil, err
	}
	return &c, nil
}

// loadRoots reads every root file: each must exist and hold at least one
// certificate.
func (c *config) loadRoots(dir string) error {
	for i, p := range c.Roots {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("roots[%d]: %w", i, err)
		}
		certs, err := pki.ParseCertificates(data)
		if err != nil {
			return fmt.Errorf("roots[%d]: %w", i, malformedError(p, "a certificate", data, err))
		}
		if len(certs) == 0 {
			return fmt.Errorf("roots[%d]: %s holds no certificate", i, p)
		}
		c.rootCerts = append(c.rootCerts, certs...)
	}
	return nil
}
