package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{}, exitOK, ""},
		{[]string{"no-such-command"}, exitUsage, `gostkey: unknown command "no-such-command" (see 'gostkey --help')`},
		{[]string{"token", "no-such-command"}, exitUsage, `gostkey token: unknown command "no-such-command" (see 'gostkey token --help')`},
		{[]string{"hash", "--alg", "md5"}, exitUsage, `gostkey hash: unknown --alg "md5"`},
		{[]string{"hash", "--no-such-flag"}, exitUsage, "gostkey hash: unknown flag: --no-such-flag (see 'gostkey hash --help')\n"},
		{[]string{"hash", "/nonexistent/x"}, exitUsage, "no such file"},
		{[]string{"hash", "-alg", "streebog512"}, exitUsage, "gostkey hash: unknown flag -alg: long flags take two dashes: --alg (see 'gostkey hash --help')\n"},
		{[]string{"help", "bogus"}, exitUsage, `gostkey: unknown command "bogus" (see 'gostkey --help')`},
		{[]string{"help", "token", "bogus"}, exitUsage, `gostkey: unknown command "token bogus"`},
		{[]string{"sign", "stray"}, exitUsage, `gostkey sign: unexpected argument "stray" (see 'gostkey sign --help')`},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
		if code != tc.code {
			t.Errorf("gostkey %v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.err) {
			t.Errorf("gostkey %v: stderr %q, want it to contain %q", tc.args, errb.String(), tc.err)
		}
		if strings.Count(errb.String(), "\n") > 1 {
			t.Errorf("gostkey %v: stderr %q spans lines", tc.args, errb.String())
		}
	}
}

func TestNegativeIsExitOne(t *testing.T) {
	register(&command{name: "test-negative", setup: func(*pflag.FlagSet, *globals) runFunc {
		return func(context.Context, stdio, []string) error { return negativeError{errFake} }
	}})
	defer delete(commands, "test-negative")
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"test-negative"}, stdio{out: &bytes.Buffer{}, err: &errb}); code != exitNegative {
		t.Fatalf("exit %d, want %d", code, exitNegative)
	}
	if got := errb.String(); got != "gostkey test-negative: signature invalid: line one line two\n" {
		t.Fatalf("stderr %q: want the reason on one line", got)
	}
}

var errFake = fakeError("signature invalid:\nline one\n  line two")

type fakeError string

func (e fakeError) Error() string { return string(e) }
