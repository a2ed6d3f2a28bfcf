package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gostkey/gostkey/ca/client"
	"github.com/gostkey/gostkey/ca/code"
)

// The CA client commands: `gostkey ca …` for operators (an API token),
// enroll and renew for holders (enroll.go).

func init() {
	groupSummaries["ca"] = "the CA's operator commands: register applicants, revoke, search, audit"
	groupSummaries["ca codes"] = "activation codes"
	groupSummaries["ca audit"] = "the CA's audit journal"
	groupSummaries["ca operator"] = "CA operators and their API tokens"
	register(&command{name: "ca register", usage: "--ca URL --tls-root F --admin-token-file F --surname S --given-name G [--patronymic P] --snils N --inn N [--email E] [--qr]",
		summary: "register an applicant; prints the one-time activation code on the last line", setup: setupCARegister})
	register(&command{name: "ca codes cancel", usage: "--ca URL --tls-root F --admin-token-file F ORDER", positional: true,
		summary: "cancel an order's activation code before it is used", setup: setupCACancel})
	register(&command{name: "ca revoke", usage: "--ca URL --tls-root F --admin-token-file F --serial HEX --reason keyCompromise|superseded|…",
		summary: "revoke a certificate", setup: setupCARevoke})
	register(&command{name: "ca hold", usage: "--ca URL --tls-root F --admin-token-file F --serial HEX",
		summary: "put a certificate on hold (certificateHold)", setup: setupCAStatus("hold")})
	register(&command{name: "ca release", usage: "--ca URL --tls-root F --admin-token-file F --serial HEX",
		summary: "release a certificate from hold", setup: setupCAStatus("release")})
	for _, name := range []string{"list", "search"} {
		register(&command{name: "ca " + name, usage: "--ca URL --tls-root F --admin-token-file F [--serial HEX] [--snils N] [--inn N] [--name SURNAME] [--status S] [--limit N]",
			summary: "list certificates, optionally by serial, SNILS, INN, surname or status", setup: setupCAList(false)})
	}
	register(&command{name: "ca expiring", usage: "--ca URL --tls-root F --admin-token-file F [--within 30d]",
		summary: "list valid certificates that expire within a time", setup: setupCAList(true)})
	register(&command{name: "ca audit export", usage: "--ca URL --tls-root F --admin-token-file F [--from N] [--out FILE]",
		summary: "export the audit journal as JSON lines", setup: setupCAAuditExport})
	register(&command{name: "ca roots", usage: "--ca URL --tls-root F [--out FILE]",
		summary: "fetch the CA's root certificates (PEM), to verify its certificates with", setup: setupCARoots})
	register(&command{name: "ca operator add", usage: "--ca URL --tls-root F --admin-token-file F --name N --role admin|registrar|auditor --token-out FILE [--expires-in 720h]",
		summary: "add an operator and write its first API token to a file (0600)", setup: setupCAOperatorAdd})
}

// caFlags are the flags of every command that talks to the CA.
type caFlags struct {
	url, tlsRoot, tokenFile string
	operator                bool // the command needs an operator token
}

func (cf *caFlags) register(fs *pflag.FlagSet, operator bool) {
	cf.operator = operator
	fs.StringVar(&cf.url, "ca", "", "the CA's HTTPS API `URL` (its ca.json api_url), e.g. https://127.0.0.1:8443")
	fs.StringVar(&cf.tlsRoot, "tls-root", "", "PEM `FILE` of the root the CA's TLS certificate chains to (the CA's tls-root.pem; default: the system roots)")
	if operator {
		fs.StringVar(&cf.tokenFile, "admin-token-file", "", "read the operator's API token (gsk_…) from `FILE`")
	}
}

// client checks the flags and makes the API client.
func (cf *caFlags) client() (*client.Client, error) {
	if cf.url == "" {
		return nil, cmdLinef("--ca URL is required")
	}
	if cf.operator && cf.tokenFile == "" {
		return nil, cmdLinef("--admin-token-file is required")
	}
	var tok code.Token
	if cf.tokenFile != "" {
		b, err := os.ReadFile(cf.tokenFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--admin-token-file %s: %w", cf.tokenFile, bareCause(err))}
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if tok, err = code.ParseToken(first); err != nil {
			return nil, usagef("--admin-token-file %s: not an API token (gsk_…)", cf.tokenFile)
		}
	}
	var pool *x509.CertPool
	if cf.tlsRoot != "" {
		var err error
		if pool, err = client.LoadRoots(cf.tlsRoot); err != nil {
			return nil, usageError{fmt.Errorf("--tls-root %s: %w", cf.tlsRoot, bareCause(err))}
		}
	}
	c, err := client.New(cf.url, pool, tok, nil)
	if err != nil {
		return nil, cmdLinef("--ca: %v", err)
	}
	return c, nil
}

// caError sorts an error from the CA for the exit status: a refusal (4xx)
// is a negative answer (exit 1); anything else (the CA unreachable, a
// server failure) exit 2.
func caError(err error) error {
	if err == nil {
		return nil
	}
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		return negativeError{err}
	}
	return err
}

// registrarError is caError for the registrar's commands, with a hint when
// the token's role may not do this (an auditor's: read-only).
func registrarError(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Code == "forbidden" {
		err = fmt.Errorf("%w (this needs a registrar's or an admin's token: an admin makes one with `gostkey ca operator add --role registrar --token-out FILE`)", err)
	}
	return caError(err)
}

func setupCARegister(fs *pflag.FlagSet, _ *globals) runFunc {
	var cf caFlags
	cf.register(fs, true)
	var id client.Identity
	fs.StringVar(&id.Surname, "surname", "", "the applicant's `SURNAME`")
	fs.StringVar(&id.GivenName, "given-name", "", "the applicant's given `NAME`")
	fs.StringVar(&id.Patronymic, "patronymic", "", "the applicant's `PATRONYMIC`, if any")
	fs.StringVar(&id.SNILS, "snils", "", "the applicant's SNILS `NUMBER` (11 digits; dashes and spaces allowed)")
	fs.StringVar(&id.INN, "inn", "", "the applicant's personal INN `NUMBER` (12 digits)")
	fs.StringVar(&id.Email, "email", "", "the applicant's e-mail `ADDRESS`, if any")
	qr := fs.Bool("qr", false, "draw the enrollment link as a QR code in the terminal")
	return func(ctx context.Context, std stdio, _ []string) error {
		var missing []string
		for _, f := range []struct{ flag, v string }{{"--surname", id.Surname}, {"--given-name", id.GivenName}, {"--snils", id.SNILS}, {"--inn", id.INN}} {
			if f.v == "" {
				missing = append(missing, f.flag)
			}
		}
		if len(missing) > 0 {
			return cmdLinef("%s required", strings.Join(missing, ", "))
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		reg, err := c.Register(ctx, id)
		if err != nil {
			return registrarError(err)
		}
		name := strings.TrimSpace(id.Surname + " " + id.GivenName + " " + id.Patronymic)
		fmt.Fprintf(std.out, "registered %s: order %s\n", name, reg.OrderID)
		fmt.Fprintf(std.out, "the code is good once, until %s\n", reg.ExpiresAt.Local().Format(time.RFC3339))
		fmt.Fprintf(std.out, "enrollment link: %s\n", reg.Link)
		if *qr {
			if err := drawQR(std.out, reg.Link); err != nil {
				return err
			}
		}
		fmt.Fprintln(std.out, "activation code:")
		fmt.Fprintln(std.out, reg.Code.Reveal())
		return nil
	}
}

func setupCACancel(fs *pflag.FlagSet, _ *globals) runFunc {
	var cf caFlags
	cf.register(fs, true)
	return func(ctx context.Context, std stdio, args []string) error {
		if len(args) != 1 {
			return cmdLinef("give one ORDER id")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		o, err := c.CancelOrder(ctx, args[0])
		if err != nil {
			return registrarError(err)
		}
		fmt.Fprintf(std.out, "order %s: %s\n", o.OrderID, o.Status)
		return nil
	}
}

// caSerial prints a serial the CA's API spells in lower case as the rest
// of the CLI prints serials (upper-case hex, as openssl x509 -serial), so a
// serial reads the same in ca list, cert show and verify.
func caSerial(s string) string { return strings.ToUpper(s) }

// serialFlag reads --serial as the server takes it (hex, colons allowed).
func serialFlag(s string) (string, error) {
	v := strings.ToLower(strings.ReplaceAll(s, ":", ""))
	if v == "" {
		return "", cmdLinef("--serial HEX is required")
	}
	for _, r := range v {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return "", usagef("--serial %q: want the certificate's serial in hex", s)
		}
	}
	return v, nil
}

func setupCARevoke(fs *pflag.FlagSet, _ *globals) runFunc {
	var cf caFlags
	cf.register(fs, true)
	serial := fs.String("serial", "", "the certificate's serial `HEX`")
	reason := fs.String("reason", "", "RFC 5280 `REASON`: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, …")
	return func(ctx context.Context, std stdio, _ []string) error {
		sn, err := serialFlag(*serial)
		if err != nil {
			return err
		}
		if *reason == "" {
			return cmdLinef("--reason is required")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		cert, err := c.Revoke(ctx, sn, *reason)
		if err != nil {
			return registrarError(err)
		}
		fmt.Fprintf(std.out, "certificate %s: %s (%s) at %s\n", caSerial(cert.Serial), cert.Status, cert.Reason, cert.RevokedAt.Local().Format(time.RFC3339))
		return nil
	}
}

func setupCAStatus(op string) func(*pflag.FlagSet, *globals) runFunc {
	return func(fs *pflag.FlagSet, _ *globals) runFunc {
		var cf caFlags
		cf.register(fs, true)
		serial := fs.String("serial", "", "the certificate's serial `HEX`")
		return func(ctx context.Context, std stdio, _ []string) error {
			sn, err := serialFlag(*serial)
			if err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			change := c.Hold
			if op == "release" {
				change = c.Release
			}
			cert, err := change(ctx, sn)
			if err != nil {
				return registrarError(err)
			}
			fmt.Fprintf(std.out, "certificate %s: %s\n", caSerial(cert.Serial), cert.Status)
			return nil
		}
	}
}

func setupCAList(expiring bool) func(*pflag.FlagSet, *globals) runFunc {
	return func(fs *pflag.FlagSet, _ *globals) runFunc {
		var cf caFlags
		cf.register(fs, true)
		var q client.Query
		var within string
		if expiring {
			fs.StringVar(&within, "within", "30d", "`DURATION` from now: 30d, 12h, …")
		} else {
			fs.StringVar(&q.Serial, "serial", "", "the certificate's serial `HEX`")
			fs.StringVar(&q.SNILS, "snils", "", "the holder's SNILS `NUMBER`")
			fs.StringVar(&q.INN, "inn", "", "the holder's INN `NUMBER`")
			fs.StringVar(&q.Name, "name", "", "the holder's `SURNAME`")
			fs.StringVar(&q.Status, "status", "", "`STATUS`: valid, revoked or on-hold")
		}
		limit := fs.Int("limit", 0, "list at most `N` certificates (default: all)")
		return func(ctx context.Context, std stdio, _ []string) error {
			if *limit < 0 {
				return cmdLinef("--limit must not be negative")
			}
			if q.Serial != "" {
				sn, err := serialFlag(q.Serial)
				if err != nil {
					return err
				}
				q.Serial = sn
			}
			q.ExpiringWithin = within
			c, err := cf.client()
			if err != nil {
				return err
			}
			n := 0
			for {
				if *limit > 0 {
					q.Limit = min(*limit-n, 1000)
				}
				page, err := c.Certificates(ctx, q)
				if err != nil {
					return caError(err)
				}
				for _, cert := range page.Certificates {
					who := strings.TrimSpace(cert.Identity.Surname + " " + cert.Identity.GivenName + " " + cert.Identity.Patronymic)
					fmt.Fprintf(std.out, "%s %-8s until %s  %s SNILS %s INN %s\n", caSerial(cert.Serial), cert.Status,
						cert.NotAfter.UTC().Format(time.RFC3339), who, cert.Identity.SNILS, cert.Identity.INN)
					n++
				}
				if page.NextPageToken == "" || (*limit > 0 && n >= *limit) {
					break
				}
				q.PageToken = page.NextPageToken
			}
			fmt.Fprintf(std.err, "%d certificate(s)\n", n)
			return nil
		}
	}
}

func setupCAAuditExport(fs *pflag.FlagSet, _ *globals) runFunc {
	var cf caFlags
	cf.register(fs, true)
	from := fs.Uint64("from", 1, "start at record `N`")
	out := fs.String("out", "-", "write the JSON lines to `FILE` (- for standard output)")
	return func(ctx context.Context, std stdio, _ []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		var exportErr error
		err = streamOutput(*out, std.out, func(w io.Writer) error {
			_, exportErr = c.ExportAudit(ctx, *from, w)
			return exportErr
		})
		if exportErr != nil {
			return caError(exportErr)
		}
		return err
	}
}

func setupCARoots(fs *pflag.FlagSet, _ *globals) runFunc {
	var cf caFlags
	cf.register(fs, false)
	out := fs.String("out", "-", "write the PEM roots to `FILE` (- for standard output)")
	return func(ctx context.Context, std stdio, _ []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		roots, err := c.Roots(ctx)
		if err != nil {
			return caError(err)
		}
		var b []byte
		for _, r := range roots {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
		}
		if err := writeOutput(*out, b, std.out); err != nil {
			return err
		}
		for _, r := range roots {
			fmt.Fprintf(reportTo(*out, std), "root %s, valid until %s\n", r.Subject, r.NotAfter.UTC().Format(time.RFC3339))
		}
		return nil
	}
}

func setupCAOperatorAdd(fs *pflag.FlagSet, _ *globals) runFunc {
	var cf caFlags
	cf.register(fs, true)
	name := fs.String("name", "", "the operator's `NAME`")
	role := fs.String("role", "", "`ROLE`: admin, registrar or auditor")
	tokenOut := fs.String("token-out", "", "write the operator's API token to `FILE` (mode 0600; it is shown nowhere else)")
	expiresIn := fs.String("expires-in", "720h", "the token's lifetime `DURATION` (720h, 30d)")
	cidrs := fs.StringArray("cidr", nil, "accept the token only from `PREFIX` (repeatable), e.g. 10.0.0.0/8")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *name == "" || *role == "" || *tokenOut == "" {
			return cmdLinef("--name, --role and --token-out are required")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		op, err := c.CreateOperator(ctx, *name, *role)
		if err != nil {
			return caError(err)
		}
		tok, err := c.CreateToken(ctx, op.OperatorID, *expiresIn, *cidrs)
		if err != nil {
			return caError(fmt.Errorf("operator %s added, but its token: %w", op.OperatorID, err))
		}
		if err := writeSecretFile(*tokenOut, []byte(tok.Token.Reveal()+"\n")); err != nil {
			return err
		}
		fmt.Fprintf(std.out, "operator %s (%s, %s); token %s in %s, valid until %s\n", op.OperatorID, op.Name, op.Role,
			tok.TokenID, *tokenOut, tok.ExpiresAt.Local().Format(time.RFC3339))
		return nil
	}
}

// writeSecretFile writes a new file readable by the user only; an existing
// file is refused rather than overwritten, since it may hold another
// secret.
func writeSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageError{fmt.Errorf("cannot write %s: %w", path, bareCause(err))}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return usageError{fmt.Errorf("cannot write %s: %w", path, bareCause(err))}
	}
	return f.Close()
}
