package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/api"
	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/config"
	"github.com/gostkey/gostkey/ca/publish"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/postgres"
	"github.com/gostkey/gostkey/ca/store/sqlite"
	"github.com/gostkey/gostkey/pki"
)

type serveFlags struct {
	config, listen, httpListen string
	validate                   bool
}

func serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --config DIR/ca.json",
		Short: "serve the HTTPS API and the plain-HTTP publication listener",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(f.config, f.listen, f.httpListen)
			if err != nil {
				return err
			}
			if f.validate {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", f.config)
				return nil
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "the CA's ca.json")
	cmd.Flags().StringVar(&f.listen, "listen", "", "HTTPS API address (overrides listen)")
	cmd.Flags().StringVar(&f.httpListen, "http-listen", "", "plain-HTTP address (overrides http_listen)")
	cmd.Flags().BoolVar(&f.validate, "validate", false, "check the config and exit (0 valid, 2 not)")
	return cmd
}

func loadConfig(path, listen, httpListen string) (*config.Config, error) {
	if path == "" {
		return nil, inputError(errors.New("--config is required"))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, inputError(err)
	}
	if listen != "" {
		cfg.Listen = listen
	}
	if httpListen != "" {
		cfg.HTTPListen = httpListen
	}
	if err := cfg.Validate(); err != nil {
		return nil, inputError(err)
	}
	return cfg, nil
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if cfg.Database.Driver == "postgres" {
		return postgres.Open(ctx, cfg.Database.DSN)
	}
	return sqlite.Open(ctx, cfg.Path(cfg.Database.Path), sqlite.Options{})
}

func logLevel(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

// serve wires the use cases from cfg and runs until ctx ends (SIGTERM),
// then drains both listeners and signs an audit checkpoint.
func serve(ctx context.Context, cfg *config.Config, stderr interface{ Write([]byte) (int, error) }) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: logLevel(cfg.LogLevel)}))
	m, err := openModule(cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	keys, err := openKeys(ctx, cfg, m)
	if err != nil {
		return refused("refusing to start: %w", err)
	}
	codeKey, err := os.ReadFile(cfg.Path(cfg.CodeKeyFile))
	if err != nil {
		return err
	}
	hasher, err := code.NewHasher(codeKey) // copies the key
	clear(codeKey)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.CodeKeyFile, err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	now := time.Now
	journal := audit.New(now, &audit.Checkpointer{Signer: keys.issuing, Opts: checkpointOpts, KeyID: keyID(keys.issuingCert), Every: cfg.Audit.CheckpointEvery})
	roots := []*pki.Certificate{keys.rootCert}
	metrics := api.NewMetrics(st, now)
	policies, _ := cfg.PolicyOIDs() // validated with the config
	crl, err := publish.NewCRLPublisher(publish.CRLConfig{Validity: cfg.CRL.Validity.D(), DeltaURL: cfg.PublicHTTPURL + publish.PathDeltaCRL},
		publish.CRLDeps{Store: st, Journal: journal, Issuer: keys.issuingCert, Signer: keys.issuing, Now: now, Logger: log})
	if err != nil {
		return err
	}
	// The root's own CRL settles the issuing CA certificate (its CRL DP);
	// the root revokes nothing the store knows of, so it lists nothing.
	rootCRL, err := publish.NewRootCRLPublisher(publish.RootCRLConfig{},
		publish.RootCRLDeps{Store: st, Journal: journal, Root: keys.rootCert, Signer: keys.root, Now: now, Logger: log})
	if err != nil {
		return refused("refusing to start: %w", err)
	}
	if err := renewResponder(ctx, cfg.Path(cfg.Certs.OCSP), keys, st, journal, now()); err != nil {
		return fmt.Errorf("renewing the OCSP responder certificate: %w", err)
	}
	ocsp, err := publish.NewOCSPResponder(publish.OCSPConfig{Validity: cfg.OCSP.Validity.D()},
		publish.OCSPDeps{Store: st, Issuer: keys.issuingCert, Responder: keys.ocspCert, Signer: keys.ocsp, Now: now, Logger: log})
	if err != nil {
		return refused("refusing to start: %w", err)
	}

	issuer, err := ca.NewIssuer(ca.IssuerConfig{
		Validity: cfg.Profile.Validity.D(), PublicHTTPURL: cfg.PublicHTTPURL, SubjectSignTool: cfg.Profile.SubjectSignTool,
		IssuerSignTool: pki.IssuerSignTool{SignTool: cfg.Profile.IssuerSignTool.SignTool, CATool: cfg.Profile.IssuerSignTool.CATool,
			SignToolCert: cfg.Profile.IssuerSignTool.SignToolCert, CAToolCert: cfg.Profile.IssuerSignTool.CAToolCert},
		Policies: policies,
	}, ca.IssuerDeps{Store: st, Journal: journal, Signer: keys.issuing, Cert: keys.issuingCert, Now: now})
	if err != nil {
		return err
	}
	clientLimiter := ca.NewLimiter(cfg.Enrollment.ClientFailures, cfg.Enrollment.ClientWindow.D(), now)
	registrar, err := ca.NewRegistrar(ca.RegistrarConfig{CodeTTL: cfg.Enrollment.CodeTTL.D(), APIURL: cfg.APIURL},
		ca.RegistrarDeps{Store: st, Journal: journal, Hasher: hasher, Now: now})
	if err != nil {
		return err
	}
	enrollment, err := ca.NewEnrollment(ca.EnrollmentConfig{MaxFailures: cfg.Enrollment.MaxFailures},
		ca.EnrollmentDeps{Store: st, Journal: journal, Hasher: hasher, Issuer: issuer, Limiter: clientLimiter, Now: now})
	if err != nil {
		return err
	}
	proof := ca.ProofConfig{MaxAge: cfg.Renewal.ProofMaxAge.D()}
	renewal, err := ca.NewRenewal(ca.RenewalConfig{Window: cfg.Renewal.Window.D(), RevokeSupersededAfter: cfg.Renewal.RevokeSupersededAfter.D(), Proof: proof},
		ca.RenewalDeps{Store: st, Journal: journal, Issuer: issuer, Roots: roots, Limiter: clientLimiter, Now: now})
	if err != nil {
		return err
	}
	revocation, err := ca.NewRevocation(ca.RevocationConfig{CodeTTL: cfg.Revocation.CodeTTL.D(), Proof: proof},
		ca.RevocationDeps{Store: st, Journal: journal, Hasher: hasher, CRL: crl, Roots: roots, Issuer: keys.issuingCert,
			Limiter: clientLimiter, Now: now, Log: log})
	if err != nil {
		return err
	}
	operators, err := ca.NewOperators(ca.OperatorsConfig{MaxTokenLifetime: cfg.Operators.MaxTokenLifetime.D()},
		ca.OperatorsDeps{Store: st, Journal: journal, Limiter: ca.NewLimiter(cfg.Operators.AuthFailures, cfg.Operators.AuthWindow.D(), now),
			Now: now, OnAuthFailure: metrics.AuthFailure})
	if err != nil {
		return err
	}
	apiHandler, err := api.New(api.Deps{Registrar: registrar, Enrollment: enrollment, Renewal: renewal, Revocation: revocation,
		Operators: operators, Store: st, Roots: roots, Issuing: keys.issuingCert, Now: now, Log: log, Metrics: metrics,
		Settings: settingsOf(cfg)})
	if err != nil {
		return err
	}

	// Each under its store lease: of several replicas, one runs each job.
	background, err := ca.NewJobs(ca.DefaultJobsEvery, ca.JobsDeps{Store: st, Now: now, Log: log},
		ca.Job{Name: "revoke-superseded", Run: revocation.RevokeDueSuperseded},
		ca.Job{Name: "expire-orders", Run: registrar.ExpireOrders},
		ca.PruneProofsJob(st, now))
	if err != nil {
		return err
	}

	apiLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		apiLn.Close()
		return err
	}
	tlsCert := tls.Certificate{Certificate: keys.tlsChain, PrivateKey: keys.tls}
	apiSrv := &http.Server{Handler: apiHandler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{tlsCert}}}
	pubSrv := &http.Server{Handler: publish.Handler(roots, keys.issuingCert, crl, ocsp, rootCRL), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute}

	errs := make(chan error, 2)
	go func() { errs <- apiSrv.ServeTLS(apiLn, "", "") }()
	go func() { errs <- pubSrv.Serve(httpLn) }()
	jobs, stopJobs := context.WithCancel(context.Background())
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); _ = background.Run(jobs) }()
	crlDone := make(chan error, 2)
	// The first CRLs at once, then on schedule before nextUpdate.
	go func() { crlDone <- crl.Run(jobs) }()
	go func() { crlDone <- rootCRL.Run(jobs) }()
	log.Info("serving", "api", "https://"+apiLn.Addr().String(), "publication", "http://"+httpLn.Addr().String())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = errors.Join(apiSrv.Shutdown(shutdown), pubSrv.Shutdown(shutdown))
	stopJobs()
	<-jobsDone
	for range 2 {
		if cerr := <-crlDone; cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = errors.Join(err, fmt.Errorf("CRL schedule: %w", cerr))
		}
	}
	if cerr := st.Tx(shutdown, func(tx store.Tx) error { _, err := journal.Checkpoint(shutdown, tx); return err }); cerr != nil {
		err = errors.Join(err, fmt.Errorf("shutdown checkpoint: %w", cerr))
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(serveErr, err)
	}
	return err
}

// The seams serve joins, checked by the compiler.
var (
	_ ca.CRLReissuer = (*publish.CRLPublisher)(nil)
	_ http.Handler   = (*api.Server)(nil)
)

// settingsOf is the policy part of cfg an admin reads at GET /v1/settings:
// no listener addresses, paths, DSN or PINs.
func settingsOf(cfg *config.Config) any {
	return struct {
		Profile    config.Profile    `json:"profile"`
		Enrollment config.Enrollment `json:"enrollment"`
		Renewal    config.Renewal    `json:"renewal"`
		Revocation config.Revocation `json:"revocation"`
		Operators  config.Operators  `json:"operators"`
		CRL        config.CRL        `json:"crl"`
		OCSP       config.OCSP       `json:"ocsp"`
		Audit      config.Audit      `json:"audit"`
	}{cfg.Profile, cfg.Enrollment, cfg.Renewal, cfg.Revocation, cfg.Operators, cfg.CRL, cfg.OCSP, cfg.Audit}
}
