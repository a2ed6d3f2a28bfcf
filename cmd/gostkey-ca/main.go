// Command gostkey-ca is the CA service: init makes a CA directory (keys on
// a PKCS#11 token, certificates, database, config, admin token), serve runs
// the HTTPS API and the plain-HTTP publication listener, audit verify
// checks the journal. The work is in ca/, ca/api, ca/config and ca/store;
// this package turns flags and ca.json into constructors.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries an exit status: 1 a negative answer (refused, journal
// broken), 2 usage or input errors.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func refused(format string, args ...any) error {
	return &exitError{1, fmt.Errorf(format, args...)}
}

func inputError(err error) error { return &exitError{2, err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "gostkey-ca",
		Short:         "the gostkey certificate authority",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(initCommand(), serveCommand(), auditCommand())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return inputError(err) })
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintln(stderr, "gostkey-ca:", msg)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.Contains(err.Error(), "accepts ") {
		return 2
	}
	return 1
}
