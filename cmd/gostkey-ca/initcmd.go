package main

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/config"
	"github.com/gostkey/gostkey/ca/publish"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/postgres"
	"github.com/gostkey/gostkey/ca/store/sqlite"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

type initFlags struct {
	dir, module, listen, httpListen, name string
	// token and pinFile name an existing token (an HSM in production)
	// instead of a new softtoken under DIR.
	token, pinFile string
	// databaseDSN, when set, puts the store on PostgreSQL instead of
	// SQLite under DIR: an empty database, shared by later replicas.
	databaseDSN string
}

func initCommand() *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "make a new CA in DIR: keys on a softtoken under DIR, certificates, database, config, admin token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.dir == "" {
				return inputError(errors.New("init: --dir is required"))
			}
			return runInit(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.dir, "dir", "", "the CA directory (must be empty or absent)")
	cmd.Flags().StringVar(&f.module, "module", "", "PKCS#11 module (default: libgostkey-softtoken.so beside this binary)")
	cmd.Flags().StringVar(&f.listen, "listen", "", "HTTPS API address (default: 127.0.0.1 and a free port)")
	cmd.Flags().StringVar(&f.httpListen, "http-listen", "", "plain-HTTP publication address (default: 127.0.0.1 and a free port)")
	cmd.Flags().StringVar(&f.name, "name", "gostkey CA", "the CA's name in its certificates")
	cmd.Flags().StringVar(&f.token, "token", "", "an existing token (label or pkcs11: URI) to make the keys on, instead of a softtoken under DIR")
	cmd.Flags().StringVar(&f.databaseDSN, "database-dsn", "", "a PostgreSQL connection string: the store goes there (an empty database) instead of SQLite under DIR")
	cmd.Flags().StringVar(&f.pinFile, "pin-file", "", "the user PIN of --token, first line of FILE (or the URI's pin-source)")
	return cmd
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// randomPIN is 26 base32 characters (130 bits): the CA's token PINs are
// read from files by the service, never typed.
func randomPIN() ([]byte, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

func writeSecret(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writePublic(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runInit refuses a DIR that is not empty before touching anything; after
// that, a failure removes what it made.
func runInit(ctx context.Context, f initFlags, out io.Writer) (err error) {
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return inputError(err)
	}
	created := false
	switch entries, rerr := os.ReadDir(dir); {
	case errors.Is(rerr, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		created = true
	case rerr != nil:
		return inputError(rerr)
	case len(entries) > 0:
		return refused("init: %s is not empty (already a CA?): refusing to touch it", dir)
	}
	defer func() {
		if err == nil {
			return
		}
		if created {
			_ = os.RemoveAll(dir)
			return
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}()

	cfg := config.Default()
	if f.databaseDSN != "" {
		cfg.Database = config.Database{Driver: "postgres", DSN: f.databaseDSN}
	}
	if cfg.Token.Module, err = moduleFlag(f.module); err != nil {
		return inputError(err)
	}
	if cfg.Listen, err = addrOrFree(f.listen); err != nil {
		return inputError(err)
	}
	if cfg.HTTPListen, err = addrOrFree(f.httpListen); err != nil {
		return inputError(err)
	}
	cfg.PublicHTTPURL = "http://" + cfg.HTTPListen
	cfg.APIURL = "https://" + cfg.Listen
	if err := cfg.Validate(); err != nil {
		return inputError(err)
	}
	path := func(p string) string { return filepath.Join(dir, p) }
	m, tok, err := initToken(ctx, f, cfg, path)
	if err != nil {
		return err
	}
	defer m.Close()
	// On an existing token, a failed init takes its keys off it again.
	var made []*pkcs11.Key
	defer func() {
		if err != nil && f.token != "" {
			for _, k := range made {
				_ = tok.DeleteKey(ctx, k)
			}
		}
	}()
	gen := func(label string, curve *gost.Curve, ec elliptic.Curve) (*pkcs11.Key, error) {
		k, err := tok.GenerateKey(ctx, pkcs11.KeySpec{Label: label, Curve: curve, ECDSA: ec})
		if err != nil {
			return nil, fmt.Errorf("generating key %q: %w", label, err)
		}
		made = append(made, k)
		return k, nil
	}
	rootKey, err := gen(cfg.Keys.Root, gost.CurveTC26512A, nil)
	if err != nil {
		return err
	}
	issuingKey, err := gen(cfg.Keys.Issuing, gost.CurveTC26256A, nil)
	if err != nil {
		return err
	}
	ocspKey, err := gen(cfg.Keys.OCSP, gost.CurveTC26256A, nil)
	if err != nil {
		return err
	}
	tlsRootKey, err := gen("tls-root", nil, elliptic.P256())
	if err != nil {
		return err
	}
	tlsKey, err := gen(cfg.Keys.TLS, nil, elliptic.P256())
	if err != nil {
		return err
	}

	now := time.Now().UTC().Truncate(time.Second)
	nb := now.Add(-time.Hour) // a little slack for relying parties' clocks
	rootCert, err := makeCert(&pki.Certificate{
		Subject:   pki.Name{Country: "RU", Organization: f.name, CommonName: f.name + " Root"},
		NotBefore: nb, NotAfter: nb.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
	}, nil, rootKey, rootKey)
	if err != nil {
		return err
	}
	issuingCert, err := makeCert(&pki.Certificate{
		Subject:   pki.Name{Country: "RU", Organization: f.name, CommonName: f.name + " Issuing CA"},
		NotBefore: nb, NotAfter: nb.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
		IssuingCertificateURL: []string{cfg.PublicHTTPURL + publish.PathRootCert},
		// The root's CRL settles this certificate (no OCSP for it: the root
		// key signs only now and then, not per request).
		CRLDistributionPoints: []string{cfg.PublicHTTPURL + publish.PathRootCRL},
	}, rootCert, issuingKey, rootKey)
	if err != nil {
		return err
	}
	// A year (it has ocsp-nocheck, so it is kept short); serve renews it
	// at start when it nears its end (responder.go).
	ocspCert, err := makeCert(publish.ResponderTemplate(nil,
		pki.Name{Country: "RU", Organization: f.name, CommonName: f.name + " OCSP Responder"}, nb, nb.AddDate(1, 0, 0)),
		issuingCert, ocspKey, issuingKey)
	if err != nil {
		return err
	}
	tlsRoot, err := makeCert(&pki.Certificate{
		Subject:   pki.Name{Organization: f.name, CommonName: f.name + " local TLS root"},
		NotBefore: nb, NotAfter: nb.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
	}, nil, tlsRootKey, tlsRootKey)
	if err != nil {
		return err
	}
	tlsLeaf, err := makeCert(&pki.Certificate{
		Subject:   pki.Name{Organization: f.name, CommonName: "localhost"},
		NotBefore: nb, NotAfter: nb.AddDate(2, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []asn1.ObjectIdentifier{pki.OIDExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, tlsRoot, tlsKey, tlsRootKey)
	if err != nil {
		return err
	}
	for _, kc := range []struct {
		key  *pkcs11.Key
		cert *pki.Certificate
	}{{rootKey, rootCert}, {issuingKey, issuingCert}, {ocspKey, ocspCert}, {tlsRootKey, tlsRoot}, {tlsKey, tlsLeaf}} {
		if err := tok.ImportCertificate(ctx, kc.key, kc.cert.Raw); err != nil {
			return fmt.Errorf("storing the certificate of %q on the token: %w", kc.key.Label(), err)
		}
	}
	for _, w := range []struct {
		name string
		data []byte
	}{
		{cfg.Certs.Root, pemEncode(rootCert.Raw)}, {cfg.Certs.Issuing, pemEncode(issuingCert.Raw)},
		{cfg.Certs.OCSP, pemEncode(ocspCert.Raw)}, {cfg.TLS.Root, pemEncode(tlsRoot.Raw)},
		{cfg.TLS.Cert, pemEncode(tlsLeaf.Raw, tlsRoot.Raw)},
	} {
		if err := writePublic(path(w.name), w.data); err != nil {
			return err
		}
	}
	codeKey := make([]byte, 32)
	if _, err := rand.Read(codeKey); err != nil {
		return err
	}
	err = writeSecret(path(cfg.CodeKeyFile), codeKey)
	clear(codeKey)
	if err != nil {
		return err
	}

	adminToken, err := initDatabase(ctx, cfg, path(cfg.Database.Path), issuingKey, issuingCert, rootCert)
	if err != nil {
		return err
	}
	if err := writeSecret(path("admin.token"), []byte(adminToken+"\n")); err != nil {
		return err
	}
	if err := cfg.Write(path("ca.json")); err != nil {
		return err
	}
	fmt.Fprintf(out, "CA initialized in %s\n", dir)
	fmt.Fprintf(out, "config:       %s\n", path("ca.json"))
	fmt.Fprintf(out, "API:          %s (TLS root %s)\n", cfg.APIURL, path(cfg.TLS.Root))
	fmt.Fprintf(out, "publication:  %s\n", cfg.PublicHTTPURL)
	fmt.Fprintf(out, "root:         %s\n", rootCert.Subject.String())
	fmt.Fprintf(out, "admin token (shown once; also in %s):\n%s\n", path("admin.token"), adminToken)
	return nil
}

// initToken opens the module and logs in: on --token, the existing token
// with --pin-file; otherwise a new softtoken under DIR with random PINs
// written beside the config.
func initToken(ctx context.Context, f initFlags, cfg *config.Config, path func(string) string) (*pkcs11.Module, *pkcs11.Token, error) {
	if f.token != "" {
		pinFile := f.pinFile
		if pinFile == "" {
			if u, err := pkcs11.ParseURI(f.token); err == nil && u.PINSource != "" {
				if pinFile, err = u.PINFile(); err != nil {
					return nil, nil, inputError(err)
				}
			}
		}
		if pinFile == "" {
			return nil, nil, inputError(errors.New("init: --token needs --pin-file (the service logs in unattended)"))
		}
		abs, err := filepath.Abs(pinFile)
		if err != nil {
			return nil, nil, inputError(err)
		}
		cfg.Token.SoftTokenDir, cfg.Token.Label, cfg.Token.PINFile = "", f.token, abs
		m, err := pkcs11.Open(cfg.Token.Module, pkcs11.Options{})
		if err != nil {
			return nil, nil, err
		}
		tok, err := pkcs11.Modules{m}.FindToken(f.token)
		if err == nil {
			err = tok.Login(ctx, pkcs11.PINFile(abs))
		}
		if err != nil {
			m.Close()
			return nil, nil, inputError(fmt.Errorf("token %q: %w", f.token, err))
		}
		return m, tok, nil
	}
	if err := os.Mkdir(path(cfg.Token.SoftTokenDir), 0o700); err != nil {
		return nil, nil, err
	}
	userPIN, err := randomPIN()
	if err != nil {
		return nil, nil, err
	}
	soPIN, err := randomPIN()
	if err != nil {
		return nil, nil, err
	}
	for _, pf := range []struct {
		name string
		pin  []byte
	}{{cfg.Token.PINFile, userPIN}, {"so.pin", soPIN}} {
		line := append(append([]byte(nil), pf.pin...), '\n')
		err := writeSecret(path(pf.name), line)
		clear(line)
		if err != nil {
			return nil, nil, err
		}
	}
	if err := os.Setenv("GOSTKEY_SOFTTOKEN_DIR", path(cfg.Token.SoftTokenDir)); err != nil {
		return nil, nil, err
	}
	m, err := pkcs11.Open(cfg.Token.Module, pkcs11.Options{})
	if err != nil {
		return nil, nil, err
	}
	tok, err := m.InitToken(ctx, cfg.Token.Label, pkcs11.NewPIN(soPIN), pkcs11.NewPIN(userPIN))
	if err == nil {
		err = tok.Login(ctx, pkcs11.PINFile(path(cfg.Token.PINFile)))
	}
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("init token: %w", err)
	}
	return m, tok, nil
}

func moduleFlag(m string) (string, error) {
	if m == "" {
		return defaultModule()
	}
	return filepath.Abs(m)
}

func addrOrFree(a string) (string, error) {
	if a == "" {
		return freePort()
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		return "", fmt.Errorf("address %q: %w", a, err)
	}
	return a, nil
}

// makeCert signs tmpl for key's public key with signer as parent (nil:
// self-signed), with a random serial.
func makeCert(tmpl, parent *pki.Certificate, key, signer crypto.Signer) (*pki.Certificate, error) {
	serial, err := pki.NewSerialNumber(rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if tmpl.MaxPathLen == 0 && !tmpl.MaxPathLenZero {
		tmpl.MaxPathLen = -1
	}
	der, err := pki.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	return pki.ParseCertificate(der)
}

// initDatabase creates the store, records the CA's creation and makes the
// first admin operator with its token.
func initDatabase(ctx context.Context, cfg *config.Config, dbPath string, issuingKey crypto.Signer, issuingCert, rootCert *pki.Certificate) (string, error) {
	var st store.Store
	var err error
	if cfg.Database.Driver == "postgres" {
		st, err = postgres.Open(ctx, cfg.Database.DSN)
	} else {
		// Created 0600 first: it holds applicants' personal data, and SQLite
		// gives its -wal and -shm files the database file's mode.
		if err := writeSecret(dbPath, nil); err != nil {
			return "", err
		}
		st, err = sqlite.Open(ctx, dbPath, sqlite.Options{})
	}
	if err != nil {
		return "", err
	}
	defer st.Close()
	j := audit.New(time.Now, &audit.Checkpointer{Signer: issuingKey, Opts: checkpointOpts, KeyID: keyID(issuingCert), Every: cfg.Audit.CheckpointEvery})
	if err := st.Tx(ctx, func(tx store.Tx) error {
		// A shared database may already hold a CA: a second init would chain
		// a new CA's records onto its journal and give it a second admin.
		if seq, _, err := tx.AuditHead(ctx); err != nil {
			return err
		} else if seq != 0 {
			return refused("init: the database already holds a CA (audit journal at %d): refusing to touch it", seq)
		}
		_, err := j.Append(ctx, tx, audit.Entry{Actor: "init", Action: "ca.init", Object: rootCert.SerialNumber.Text(16),
			Details: map[string]string{"root": rootCert.Subject.String(), "issuing": issuingCert.Subject.String()}})
		return err
	}); err != nil {
		return "", err
	}
	ops, err := ca.NewOperators(ca.OperatorsConfig{MaxTokenLifetime: cfg.Operators.MaxTokenLifetime.D()},
		ca.OperatorsDeps{Store: st, Journal: j, Limiter: ca.NewLimiter(1, time.Minute, time.Now), Now: time.Now})
	if err != nil {
		return "", err
	}
	op, err := ops.Create(ctx, "init", "admin", store.RoleAdmin)
	if err != nil {
		return "", err
	}
	tok, _, err := ops.IssueToken(ctx, "init", op.ID, cfg.Operators.MaxTokenLifetime.D(), nil)
	if err != nil {
		return "", err
	}
	if err := st.Tx(ctx, func(tx store.Tx) error { _, err := j.Checkpoint(ctx, tx); return err }); err != nil {
		return "", err
	}
	return tok.Reveal(), nil
}
