package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{}, exitOK, ""},
		{[]string{"no-such-command"}, exitUsage, `unknown command "no-such-command"`},
		{[]string{"hash", "--alg", "md5"}, exitUsage, `gostkey hash: unknown --alg "md5"`},
		{[]string{"hash", "--no-such-flag"}, exitUsage, "flag provided but not defined"},
		{[]string{"hash", "/nonexistent/x"}, exitUsage, "no such file"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
		if code != tc.code {
			t.Errorf("gostkey %v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.err) {
			t.Errorf("gostkey %v: stderr %q, want it to contain %q", tc.args, errb.String(), tc.err)
		}
	}
}

func TestNegativeIsExitOne(t *testing.T) {
	register(&command{name: "test-negative", run: func(context.Context, stdio, []string) error {
		return negativeError{errFake}
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
