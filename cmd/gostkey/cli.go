package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// runFunc runs a command once its flags are parsed.
type runFunc func(ctx context.Context, std stdio, args []string) error

// command is one leaf of the command tree ("hash", "token list").
type command struct {
	name    string
	usage   string // argument synopsis after the name
	summary string
	// positional is true for commands that take arguments besides
	// flags (hash FILE...); the others refuse stray words, which are
	// usually a mistyped flag.
	positional bool
	// setup declares the command's flags and returns what runs once they
	// are parsed. It is called afresh for every run, so no flag value
	// outlives one invocation.
	setup func(fs *pflag.FlagSet, g *globals) runFunc
}

// globals are the flags every command takes (persistent flags of the root).
type globals struct {
	// strict refuses what is otherwise only warned about: PIN files that
	// others can read.
	strict bool
	// stderr takes warnings that do not stop the command.
	stderr io.Writer
	warned map[string]bool // PIN files warned about, to warn once
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

// cmdLineError is a mistake in the command line itself (an unknown flag or
// command, a missing required flag): exit status 2, and the one-line
// message points at the command's help instead of dumping it.
type cmdLineError struct{ err error }

func (e cmdLineError) Error() string { return e.err.Error() }
func (e cmdLineError) Unwrap() error { return e.err }

func cmdLinef(format string, args ...any) error {
	return cmdLineError{fmt.Errorf(format, args...)}
}

// negativeError is a well-formed question answered "no": exit status 1.
type negativeError struct{ err error }

func (e negativeError) Error() string { return e.err.Error() }
func (e negativeError) Unwrap() error { return e.err }

// version is set at link time (make build: -X main.version=$(git describe));
// without it the module version from the build information is used.
var version string

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	if v == "" {
		return "unknown"
	}
	return v
}

func run(ctx context.Context, args []string, std stdio) int {
	root := newRoot(std)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	name := root.Name()
	if cmd != nil && cmd.Name() != "help" {
		name = cmd.CommandPath()
	}
	msg := oneLine(err.Error())
	var cl cmdLineError
	if errors.As(err, &cl) {
		msg += fmt.Sprintf(" (see '%s --help')", name)
	}
	fmt.Fprintf(std.err, "%s: %s\n", name, msg)
	var neg negativeError
	if errors.As(err, &neg) {
		return exitNegative
	}
	return exitUsage
}

// newRoot builds the command tree from the registered commands: the words
// of a command's name are its path ("token list" is `list` under `token`).
func newRoot(std stdio) *cobra.Command {
	g := &globals{stderr: std.err, warned: map[string]bool{}}
	root := &cobra.Command{
		Use:           "gostkey",
		Short:         "GOST signatures, certificates and PKCS#11 tokens",
		Version:       buildVersion(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun,
	}
	root.SetIn(std.in)
	root.SetOut(std.out)
	root.SetErr(std.err)
	root.SetVersionTemplate("gostkey {{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(flagError)
	root.PersistentFlags().BoolVar(&g.strict, "strict", false, "refuse instead of warn: PIN files readable by group or others")

	groups := map[string]*cobra.Command{"": root}
	var group func(path []string) *cobra.Command
	group = func(path []string) *cobra.Command {
		key := strings.Join(path, " ")
		if c, ok := groups[key]; ok {
			return c
		}
		c := &cobra.Command{Use: path[len(path)-1], Short: groupSummaries[key], Args: cobra.ArbitraryArgs, RunE: groupRun}
		group(path[:len(path)-1]).AddCommand(c)
		groups[key] = c
		return c
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		spec := commands[n]
		words := strings.Fields(n)
		leaf := &cobra.Command{
			Use:   strings.TrimSpace(words[len(words)-1] + " " + spec.usage),
			Short: spec.summary,
			Args:  cobra.ArbitraryArgs,
		}
		runCmd := spec.setup(leaf.Flags(), g)
		leaf.RunE = func(cmd *cobra.Command, args []string) error {
			if !spec.positional && len(args) > 0 {
				return cmdLinef("unexpected argument %q", args[0])
			}
			return runCmd(cmd.Context(), std, args)
		}
		group(words[:len(words)-1]).AddCommand(leaf)
	}
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			c, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return cmdLinef("unknown command %q", strings.Join(args, " "))
			}
			return c.Help()
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "print the version of gostkey",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintf(cmd.OutOrStdout(), "gostkey %s\n", root.Version) },
	})
	return root
}

// singleDash finds a long flag typed with one dash (-alg), which the
// old flag package took and pflag reads as the shorthands -a -l -g.
var singleDash = regexp.MustCompile(`^unknown shorthand flag: '.' in -([a-z][a-z0-9-]+)$`)

func flagError(cmd *cobra.Command, err error) error {
	if m := singleDash.FindStringSubmatch(err.Error()); m != nil && cmd.Flags().Lookup(m[1]) != nil {
		return cmdLinef("unknown flag -%s: long flags take two dashes: --%s", m[1], m[1])
	}
	return cmdLineError{err}
}

var groupSummaries = map[string]string{
	"token": "list, initialize and watch tokens",
	"key":   "generate, list and delete key pairs on a token",
	"cert":  "show, make, import and delete certificates",
	"pin":   "change and unblock PINs",
}

// groupRun lists a group's subcommands when called alone, and refuses an
// unknown subcommand in one line rather than with the whole help.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cmdLinef("unknown command %q", args[0])
	}
	return cmd.Help()
}

// oneLine keeps the stderr reason on one line, as scripts expect.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
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
