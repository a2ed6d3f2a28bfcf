package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit statuses are part of the interface scripts rely on (ACCEPTANCE.md).
const (
	exitOK       = 0
	exitNegative = 1 // a negative answer: invalid signature, refused request
	exitUsage    = 2 // usage or input errors
)

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one leaf of the command tree ("hash", "token list").
type command struct {
	name    string
	usage   string // argument synopsis after the name
	summary string
	run     func(ctx context.Context, std stdio, args []string) error
}

// commands is filled by the files that implement them, each in an init, so
// that adding a command touches one file.
var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("gostkey: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError is bad input from the caller: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// negativeError is a well-formed question answered "no": exit status 1.
type negativeError struct{ err error }

func (e negativeError) Error() string { return e.err.Error() }
func (e negativeError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, std stdio) int {
	c, rest := lookup(args)
	if c == nil {
		printHelp(std.err)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return exitOK
		}
		fmt.Fprintf(std.err, "gostkey: unknown command %q\n", strings.Join(args, " "))
		return exitUsage
	}
	err := c.run(ctx, std, rest)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(std.err, "gostkey %s: %s\n", c.name, oneLine(err.Error()))
	var neg negativeError
	if errors.As(err, &neg) {
		return exitNegative
	}
	return exitUsage
}

// lookup finds the longest registered command name that prefixes args.
func lookup(args []string) (*command, []string) {
	for n := min(len(args), 3); n > 0; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c, args[n:]
		}
	}
	return nil, nil
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "usage: gostkey <command> [flags] [args]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
}

// oneLine keeps the stderr reason on one line, as scripts expect.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// newFlags makes a flag set that reports usage errors as values instead of
// exiting, and prints its help on -h to stderr.
func newFlags(c *command, std stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("gostkey "+c.name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintf(std.err, "usage: gostkey %s %s\n%s\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags anywhere among the arguments (users type
// `gostkey hash FILE --alg streebog512` as often as the other order) and
// returns the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// openInput opens a file argument, "-" being standard input.
func openInput(name string, stdin io.Reader) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, usageError{err}
	}
	return f, nil
}
