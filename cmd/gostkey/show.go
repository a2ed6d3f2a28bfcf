package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "cert show", usage: "FILE", summary: "print a certificate, certificate request or CRL (PEM or DER) readably", run: runCertShow})
}

func runCertShow(ctx context.Context, std stdio, args []string) error {
	fs := newFlags(commands["cert show"], std)
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("want exactly one FILE")
	}
	in, err := openInput(files[0], std.in)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(in)
	in.Close()
	if err != nil {
		return usageError{err}
	}
	objs, err := pki.ParseObjects(data)
	if err != nil {
		return usagef("%s: %v", files[0], err)
	}
	for i, o := range objs {
		if i > 0 {
			fmt.Fprintln(std.out)
		}
		if err := o.Describe(std.out); err != nil {
			return err
		}
	}
	return nil
}
