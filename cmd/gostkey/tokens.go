package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pkcs11"
)

// tokenFlags are the flags every token command shares (ACCEPTANCE.md,
// "Common flags").
type tokenFlags struct {
	modules []string
	token   string
	pinFile string
	g       *globals
}

func (tf *tokenFlags) register(fs *pflag.FlagSet, g *globals, withToken bool) {
	tf.g = g
	tf.registerModules(fs)
	if withToken {
		fs.StringVar(&tf.token, "token", "", "token `LABEL` or pkcs11: URI (default: the only initialized token)")
	}
	fs.StringVar(&tf.pinFile, "pin-file", "", "read the user PIN from the first line of `FILE` (default: ask on the terminal)")
}

func (tf *tokenFlags) registerModules(fs *pflag.FlagSet) {
	fs.StringArrayVar(&tf.modules, "module", nil, "PKCS#11 module `PATH` (repeatable; default from the config file)")
}

// modules are the --module flags, else the config file's modules, else
// the softtoken installed beside the gostkey binary. A module the config
// file names keeps its settings when it is also given by --module.
func (tf *tokenFlags) moduleConfigs() ([]moduleConfig, error) {
	cfg, err := loadConfig(configPath())
	if err != nil {
		return nil, usageError{err}
	}
	if len(tf.modules) > 0 {
		out := make([]moduleConfig, len(tf.modules))
		for i, p := range tf.modules {
			out[i] = cfg.module(p)
		}
		return out, nil
	}
	if len(cfg.Modules) > 0 {
		return cfg.Modules, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "libgostkey-softtoken.so")
		if _, err := os.Stat(p); err == nil {
			return []moduleConfig{{Path: p}}, nil
		}
	}
	return nil, usagef("no PKCS#11 module: pass --module PATH")
}

func (tf *tokenFlags) open() (pkcs11.Modules, error) {
	mcs, err := tf.moduleConfigs()
	if err != nil {
		return nil, err
	}
	var ms pkcs11.Modules
	for _, mc := range mcs {
		m, err := pkcs11.Open(mc.Path, mc.options())
		if err != nil {
			ms.Close()
			return nil, usageError{err}
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// openToken opens the modules and picks --token; the caller closes the
// modules when done.
func (tf *tokenFlags) openToken() (pkcs11.Modules, *pkcs11.Token, error) {
	return tf.openTokenFor("")
}

// openTokenFor is openToken where keyRef, a pkcs11: URI naming a key,
// may name the token when --token does not.
func (tf *tokenFlags) openTokenFor(keyRef string) (pkcs11.Modules, *pkcs11.Token, error) {
	if err := tf.pinSourceFrom(tf.token); err != nil {
		return nil, nil, err
	}
	if err := checkPINFile(tf.pinFile, tf.g); err != nil {
		return nil, nil, err
	}
	ms, err := tf.open()
	if err != nil {
		return nil, nil, err
	}
	var t *pkcs11.Token
	if tf.token != "" {
		t, err = ms.FindToken(tf.token)
	} else {
		t, err = onlyInitializedToken(ms, keyRef)
	}
	if err != nil {
		ms.Close()
		return nil, nil, usageError{err}
	}
	return ms, t, nil
}

// onlyInitializedToken is the token a command uses when --token is not
// given: the one initialized token (an empty slot, such as the
// softtoken's spare, is no candidate), restricted by the token
// attributes of keyRef when it is a pkcs11: URI.
func onlyInitializedToken(ms pkcs11.Modules, keyRef string) (*pkcs11.Token, error) {
	u := &pkcs11.URI{}
	if strings.HasPrefix(keyRef, "pkcs11:") {
		var err error
		if u, err = pkcs11.ParseURI(keyRef); err != nil {
			return nil, err
		}
	}
	var found []*pkcs11.Token
	for _, m := range ms {
		if !u.MatchModule(m.Path()) {
			continue
		}
		ts, err := m.Tokens()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path(), err)
		}
		for _, t := range ts {
			if t.Info().Initialized && u.MatchToken(t.Info()) {
				found = append(found, t)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no initialized token (make one with `gostkey token init`)", pkcs11.ErrNotFound)
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, t := range found {
		names[i] = fmt.Sprintf("%q (slot %d of %s)", t.Info().Label, t.SlotID(), filepath.Base(t.Module().Path()))
	}
	return nil, fmt.Errorf("%w: %d initialized tokens: %s; pick one with --token", pkcs11.ErrAmbiguous, len(found), strings.Join(names, ", "))
}

// openKey is openToken, then a login and the key named by ref.
func (tf *tokenFlags) openKey(ctx context.Context, ref string) (pkcs11.Modules, *pkcs11.Key, error) {
	if err := tf.pinSourceFrom(ref); err != nil {
		return nil, nil, err
	}
	ms, t, err := tf.openTokenFor(ref)
	if err != nil {
		return nil, nil, err
	}
	if err := tf.login(ctx, t); err != nil {
		ms.Close()
		return nil, nil, err
	}
	key, err := t.FindKey(ctx, ref)
	if err != nil {
		ms.Close()
		return nil, nil, tokenError(err)
	}
	return ms, key, nil
}

// pinSourceFrom takes the PIN file from a pkcs11: URI's pin-source (RFC
// 7512) when --pin-file did not name one.
func (tf *tokenFlags) pinSourceFrom(ref string) error {
	if tf.pinFile != "" || !strings.HasPrefix(ref, "pkcs11:") {
		return nil
	}
	u, err := pkcs11.ParseURI(ref)
	if err != nil {
		return usageError{err}
	}
	if u.PINSource == "" {
		return nil
	}
	if tf.pinFile, err = u.PINFile(); err != nil {
		return usageError{err}
	}
	return nil
}

// userPrompt reads the user PIN from --pin-file or the terminal.
func (tf *tokenFlags) userPrompt() pkcs11.PINPrompt {
	if tf.pinFile != "" {
		return pkcs11.PINFile(tf.pinFile)
	}
	return terminalPrompt
}

// login logs in and turns a refused PIN into a negative answer (exit 1).
func (tf *tokenFlags) login(ctx context.Context, t *pkcs11.Token) error {
	err := t.Login(ctx, tf.userPrompt())
	if errors.Is(err, pkcs11.ErrPINInvalid) {
		return pinLengthError(t, "user PIN")
	}
	return tokenError(err)
}

// pinLengthError explains a PIN the token refused for its length or
// characters, with the token's limits (never the PIN or its length).
func pinLengthError(t *pkcs11.Token, what string) error {
	ti := t.Info()
	name := fmt.Sprintf("token %q", ti.Label)
	if !ti.Initialized {
		name = fmt.Sprintf("the token in slot %d", t.SlotID())
	}
	if ti.MaxPINLen > 0 {
		return usagef("%s refused the %s: it takes %d to %d bytes", name, what, ti.MinPINLen, ti.MaxPINLen)
	}
	return usagef("%s refused the %s (too short, too long or characters it does not take)", name, what)
}

// checkPINLength refuses a new PIN outside the token's limits before the
// token sees it, with the limits in the message.
func checkPINLength(t *pkcs11.Token, p pkcs11.PIN, what string) error {
	ti := t.Info()
	if n := uint(p.Len()); (ti.MinPINLen > 0 && n < ti.MinPINLen) || (ti.MaxPINLen > 0 && n > ti.MaxPINLen) {
		p.Zero()
		return pinLengthError(t, what)
	}
	return nil
}

// tokenError classifies token errors for the exit status: a refused PIN is
// a negative answer (exit 1), everything else an input error (exit 2).
func tokenError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pkcs11.ErrPINIncorrect) || errors.Is(err, pkcs11.ErrPINLocked) {
		return negativeError{err}
	}
	return usageError{err}
}

// terminalPrompt asks for a PIN on the controlling terminal without echo.
// It warns when few tries are left, since a mistyped PIN then locks the token.
func terminalPrompt(_ context.Context, req pkcs11.PINRequest) (pkcs11.PIN, error) {
	who := "User PIN"
	if req.User == pkcs11.SecurityOfficer {
		who = "SO PIN"
	}
	return askSecret(fmt.Sprintf("%s for token %q%s: ", who, req.Token.Label, pinWarning(req.State)))
}

func pinWarning(s pkcs11.PINState) string {
	switch {
	case s.Locked:
		return " (locked)"
	case s.FinalTry:
		return " (FINAL TRY: a wrong PIN locks it)"
	case s.CountLow:
		return " (a wrong PIN was entered before)"
	}
	return ""
}

func askSecret(prompt string) (pkcs11.PIN, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return pkcs11.PIN{}, fmt.Errorf("no terminal to ask for the PIN on (use --pin-file): %w", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return pkcs11.PIN{}, fmt.Errorf("reading the PIN: %w", err)
	}
	if len(b) == 0 {
		return pkcs11.PIN{}, pkcs11.ErrNoPIN
	}
	return pkcs11.NewPIN(b), nil
}

// pinSource is where a PIN for a non-login use (init, change, unblock)
// comes from: a file or, without one, the terminal.
type pinSource struct {
	file string
	what string // "SO PIN", "new user PIN": the terminal prompt
	// isNew asks twice on the terminal: a typo in a PIN being set would
	// lock the owner out of the token.
	isNew bool
	g     *globals
}

func (ps pinSource) read() (pkcs11.PIN, error) {
	if ps.file != "" {
		if err := checkPINFile(ps.file, ps.g); err != nil {
			return pkcs11.PIN{}, err
		}
		p, err := pkcs11.ReadPINFile(ps.file)
		if err != nil {
			return pkcs11.PIN{}, usageError{err}
		}
		return p, nil
	}
	p, err := askSecret(strings.ToUpper(ps.what[:1]) + ps.what[1:] + ": ")
	if err != nil || !ps.isNew {
		return p, usageErrorOrNil(err)
	}
	again, err := askSecret("Repeat " + ps.what + ": ")
	if err != nil {
		p.Zero()
		return pkcs11.PIN{}, usageError{err}
	}
	defer again.Zero()
	if !p.Equal(again) {
		p.Zero()
		return pkcs11.PIN{}, usagef("the two PINs differ")
	}
	return p, nil
}

// readPINPair reads two PINs; when the second fails the first is wiped.
func readPINPair(a, b pinSource) (pkcs11.PIN, pkcs11.PIN, error) {
	first, err := a.read()
	if err != nil {
		return pkcs11.PIN{}, pkcs11.PIN{}, err
	}
	second, err := b.read()
	if err != nil {
		first.Zero()
		return pkcs11.PIN{}, pkcs11.PIN{}, err
	}
	return first, second, nil
}

func usageErrorOrNil(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

func init() {
	register(&command{name: "token list", usage: "[--module M]...", summary: "list the tokens of the modules with their PIN state", setup: setupTokenList})
	register(&command{name: "token init", usage: "--module M --label L --so-pin-file F --pin-file F [--token T]", summary: "initialize a token (destroys its objects) and set its user PIN", setup: setupTokenInit})
	register(&command{name: "pin change", usage: "--module M --token L --pin-file OLD --new-pin-file NEW", summary: "change the user PIN", setup: setupPINChange})
	register(&command{name: "pin unblock", usage: "--module M --token L --so-pin-file F --new-pin-file NEW", summary: "unblock (reset) the user PIN with the SO PIN", setup: setupPINUnblock})
}

func setupTokenList(fs *pflag.FlagSet, g *globals) runFunc {
	tf := tokenFlags{g: g}
	tf.registerModules(fs)
	return func(ctx context.Context, std stdio, _ []string) error {
		ms, err := tf.open()
		if err != nil {
			return err
		}
		defer ms.Close()
		for _, m := range ms {
			info := m.Info()
			fmt.Fprintf(std.out, "module %s (%s, %s, PKCS#11 %s)\n", m.Path(), info.Description, info.Manufacturer, info.CryptokiVersion)
			slots, err := m.Slots()
			if err != nil {
				return usageError{err}
			}
			for _, s := range slots {
				if !s.Present {
					fmt.Fprintf(std.out, "  slot %d: %s: no token\n", s.ID, s.Description)
					continue
				}
				t, err := m.Token(s.ID)
				if err != nil {
					fmt.Fprintf(std.out, "  slot %d: %s: %v\n", s.ID, s.Description, err)
					continue
				}
				ti := t.Info()
				if !ti.Initialized {
					fmt.Fprintf(std.out, "  slot %d: uninitialized token (%s %s)\n", s.ID, ti.Manufacturer, ti.Model)
					continue
				}
				fmt.Fprintf(std.out, "  slot %d: token %q\n", s.ID, ti.Label)
				fmt.Fprintf(std.out, "    manufacturer %s, model %s, serial %s\n", ti.Manufacturer, ti.Model, ti.Serial)
				fmt.Fprintf(std.out, "    user PIN: %s; SO PIN: %s\n", pinStateText(ti.UserPIN, ti.UserPINInitialized), pinStateText(ti.SOPIN, true))
				fmt.Fprintf(std.out, "    uri %s\n", t.URI())
			}
		}
		return nil
	}
}

func pinStateText(s pkcs11.PINState, initialized bool) string {
	switch {
	case !initialized:
		return "not set"
	case s.Locked:
		return "LOCKED"
	case s.FinalTry:
		return "final try left"
	case s.CountLow:
		return "wrong PIN entered before"
	case s.ToBeChanged:
		return "must be changed"
	}
	return "ok"
}

func setupTokenInit(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	label := fs.String("label", "", "the new token `LABEL`")
	soPINFile := fs.String("so-pin-file", "", "read the SO PIN from `FILE`")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *label == "" {
			return cmdLinef("--label is required")
		}
		var ms pkcs11.Modules
		var t *pkcs11.Token
		var err error
		if tf.token != "" {
			ms, t, err = tf.openToken()
		} else if ms, err = tf.open(); err == nil {
			if t, err = firstUninitialized(ms); err != nil {
				ms.Close()
				return usageError{err}
			}
		}
		if err != nil {
			return err
		}
		defer ms.Close()
		so, user, err := readPINPair(pinSource{*soPINFile, "SO PIN", true, g}, pinSource{tf.pinFile, "new user PIN", true, g})
		if err != nil {
			return err
		}
		if err := checkPINLength(t, user, "new user PIN"); err != nil {
			so.Zero()
			return err
		}
		if err := checkPINLength(t, so, "SO PIN"); err != nil {
			return err
		}
		done, err := t.InitToken(ctx, *label, so, user)
		if errors.Is(err, pkcs11.ErrPINInvalid) {
			return pinLengthError(t, "PIN")
		}
		if err != nil {
			return tokenError(err)
		}
		fmt.Fprintf(std.out, "initialized token %q (serial %s) in slot %d\n", done.Info().Label, done.Info().Serial, done.SlotID())
		return nil
	}
}

// firstUninitialized is the token `token init` initializes without
// --token: the first present token not initialized yet, module by module
// (with the softtoken, its spare slot).
func firstUninitialized(ms pkcs11.Modules) (*pkcs11.Token, error) {
	ts, err := ms.Tokens()
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if !t.Info().Initialized {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: no uninitialized token; name the one to re-initialize with --token", pkcs11.ErrNotFound)
}

func setupPINChange(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	newFile := fs.String("new-pin-file", "", "read the new PIN from `FILE`")
	return func(ctx context.Context, std stdio, _ []string) error {
		ms, t, err := tf.openToken()
		if err != nil {
			return err
		}
		defer ms.Close()
		old, nw, err := readPINPair(pinSource{tf.pinFile, "current user PIN", false, g}, pinSource{*newFile, "new user PIN", true, g})
		if err != nil {
			return err
		}
		if err := checkPINLength(t, nw, "new user PIN"); err != nil {
			old.Zero()
			return err
		}
		err = t.SetPIN(ctx, old, nw)
		if errors.Is(err, pkcs11.ErrPINInvalid) {
			return pinLengthError(t, "new user PIN")
		}
		if err != nil {
			return tokenError(err)
		}
		fmt.Fprintf(std.out, "user PIN of token %q changed\n", t.Info().Label)
		return nil
	}
}

func setupPINUnblock(fs *pflag.FlagSet, g *globals) runFunc {
	tf := tokenFlags{g: g}
	tf.registerModules(fs)
	fs.StringVar(&tf.token, "token", "", "token `LABEL` or pkcs11: URI (default: the only initialized token)")
	soFile := fs.String("so-pin-file", "", "read the SO PIN from `FILE`")
	newFile := fs.String("new-pin-file", "", "read the new user PIN from `FILE`")
	return func(ctx context.Context, std stdio, _ []string) error {
		ms, t, err := tf.openToken()
		if err != nil {
			return err
		}
		defer ms.Close()
		so, nw, err := readPINPair(pinSource{*soFile, "SO PIN", false, g}, pinSource{*newFile, "new user PIN", true, g})
		if err != nil {
			return err
		}
		if err := checkPINLength(t, nw, "new user PIN"); err != nil {
			so.Zero()
			return err
		}
		err = t.InitPIN(ctx, so, nw)
		if errors.Is(err, pkcs11.ErrPINInvalid) {
			return pinLengthError(t, "new user PIN")
		}
		if err != nil {
			return tokenError(err)
		}
		fmt.Fprintf(std.out, "user PIN of token %q reset\n", t.Info().Label)
		return nil
	}
}

// keyAlgorithms maps --alg names to key specs. gost256-A..D are the TC26
// parameter sets A..D of GOST R 34.10-2012 (B..D share their curves with
// CryptoPro A..C but carry the TC26 OIDs); gost256-XA/XB the CryptoPro
// exchange sets; gost256-cpA..cpC the CryptoPro OIDs, for peers that know
// only those.
var keyAlgorithms = []struct {
	name  string
	curve *gost.Curve
	ecdsa elliptic.Curve
}{
	{"gost256-A", gost.CurveTC26256A, nil},
	{"gost256-B", gost.CurveTC26256B, nil},
	{"gost256-C", gost.CurveTC26256C, nil},
	{"gost256-D", gost.CurveTC26256D, nil},
	{"gost256-XA", gost.CurveCryptoProXchA, nil},
	{"gost256-XB", gost.CurveCryptoProXchB, nil},
	{"gost256-cpA", gost.CurveCryptoProA, nil},
	{"gost256-cpB", gost.CurveCryptoProB, nil},
	{"gost256-cpC", gost.CurveCryptoProC, nil},
	{"gost512-A", gost.CurveTC26512A, nil},
	{"gost512-B", gost.CurveTC26512B, nil},
	{"gost512-C", gost.CurveTC26512C, nil},
	{"ecdsa-p256", nil, elliptic.P256()},
	{"ecdsa-p384", nil, elliptic.P384()},
}

func keySpecFor(alg, label string) (pkcs11.KeySpec, error) {
	var names []string
	for _, a := range keyAlgorithms {
		if a.name == alg {
			return pkcs11.KeySpec{Label: label, Curve: a.curve, ECDSA: a.ecdsa}, nil
		}
		names = append(names, a.name)
	}
	return pkcs11.KeySpec{}, cmdLinef("unknown --alg %q (one of %s)", alg, strings.Join(names, ", "))
}

// algorithmName names a public key the way --alg does.
func algorithmName(pub any) string {
	switch k := pub.(type) {
	case *gost.PublicKey:
		for _, a := range keyAlgorithms {
			if a.curve == k.Curve {
				return a.name + " (" + k.Curve.Name + ")"
			}
		}
		return k.Curve.Name
	case *ecdsa.PublicKey:
		return "ecdsa-" + strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	}
	return fmt.Sprintf("%T", pub)
}

func init() {
	register(&command{name: "key gen", usage: "--module M --token L --pin-file F --alg ALG --label K", summary: "generate a key pair on a token", setup: setupKeyGen})
}

// generateKey logs in to t and makes the key pair of spec there (key gen,
// enroll and renew).
func (tf *tokenFlags) generateKey(ctx context.Context, t *pkcs11.Token, spec pkcs11.KeySpec) (*pkcs11.Key, error) {
	if err := tf.login(ctx, t); err != nil {
		return nil, err
	}
	k, err := t.GenerateKey(ctx, spec)
	if err != nil {
		return nil, tokenError(err)
	}
	return k, nil
}

func setupKeyGen(fs *pflag.FlagSet, g *globals) runFunc {
	var tf tokenFlags
	tf.register(fs, g, true)
	alg := fs.String("alg", "gost256-A", "key algorithm `ALG`: gost256-A|B|C|D|XA|XB|cpA|cpB|cpC, gost512-A|B|C, ecdsa-p256|p384")
	label := fs.String("label", "", "the key's `LABEL`")
	return func(ctx context.Context, std stdio, _ []string) error {
		if *label == "" {
			return cmdLinef("--label is required")
		}
		spec, err := keySpecFor(*alg, *label)
		if err != nil {
			return err
		}
		ms, t, err := tf.openToken()
		if err != nil {
			return err
		}
		defer ms.Close()
		k, err := tf.generateKey(ctx, t, spec)
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "generated %s key %q (id %s) on token %q\n", algorithmName(k.Public()), k.Label(), hex.EncodeToString(k.ID()), t.Info().Label)
		fmt.Fprintf(std.out, "uri %s\n", k.URI())
		return nil
	}
}
