package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/gostkey/gostkey/pki"
)

func init() {
	register(&command{name: "cert show", usage: "FILE|-", summary: "print a certificate, certificate request or CRL (PEM or DER) readably", positional: true, setup: setupCertShow})
}

func setupCertShow(*pflag.FlagSet, *globals) runFunc {
	return func(ctx context.Context, std stdio, files []string) error {
		if len(files) != 1 {
			return cmdLinef("want exactly one FILE")
		}
		data, err := readInput(files[0], std.in)
		if err != nil {
			return err
		}
		objs, err := pki.ParseObjects(data)
		if err != nil {
			return malformedError(files[0], "a certificate, CSR or CRL", data, err)
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
}
