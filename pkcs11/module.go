package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	p11 "github.com/miekg/pkcs11"
)

// DigestOrder is the byte order in which a module expects the GOST digest
// given to C_Sign with CKM_GOSTR3410 and CKM_GOSTR3410_512. The TC26 text
// leaves it open and the implementations disagree (fact sheet §5.4).
type DigestOrder int

const (
	// DigestAsHashed passes the Streebog digest in the order the hash
	// outputs it: the SoftHSM2 and Rutoken convention, and the softtoken's.
	DigestAsHashed DigestOrder = iota
	// DigestReversed reverses the digest first: the OpenSC convention.
	DigestReversed
)

func (o DigestOrder) String() string {
	switch o {
	case DigestAsHashed:
		return "as-hashed"
	case DigestReversed:
		return "reversed"
	}
	return fmt.Sprintf("DigestOrder(%d)", int(o))
}

// Options tune a Module. The zero value is the right choice for most
// modules.
type Options struct {
	// GOSTDigestOrder is the digest byte order the module expects.
	GOSTDigestOrder DigestOrder
	// MaxSessions caps the sessions each token's pool opens at once
	// (default 4); operations beyond it wait for a free session.
	MaxSessions int
	// PollInterval is how often Watch rescans the slots (default 1s).
	// Modules with a working C_WaitForSlotEvent report sooner.
	PollInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxSessions <= 0 {
		o.MaxSessions = 4
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	return o
}

// ModuleInfo describes a loaded module (C_GetInfo).
type ModuleInfo struct {
	Path            string
	Manufacturer    string
	Description     string
	CryptokiVersion string // e.g. "2.40"
	LibraryVersion  string
}

// library is one loaded and initialized PKCS#11 library. A library is
// process-wide state (C_Initialize succeeds once per process), so Open
// shares one library between all Modules opened on the same file.
type library struct {
	ctx    cryptoki
	info   ModuleInfo
	waiter slotWaiter // nil when the module has no usable C_WaitForSlotEvent
	refs   int        // guarded by libraries.mu
}

var libraries = struct {
	sync.Mutex
	m map[string]*library
}{m: map[string]*library{}}

// Module is an opened PKCS#11 module. Methods are safe for concurrent use.
type Module struct {
	lib  *library
	path string // as given to Open
	opts Options

	mu     sync.Mutex
	tokens map[uint]*Token // by slot ID; replaced when a slot gets another token
	closed bool
	done   chan struct{} // closed by Close, stops watchers
}

// Open loads the PKCS#11 module at path and initializes it. Opening the
// same file again shares the loaded library (PKCS#11 allows one
// initialization per process); each Module has its own options, tokens
// and session pools. Close each Module when done.
func Open(path string, opts Options) (*Module, error) {
	key, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: module %s: %w", path, err)
	}
	if real, err := filepath.EvalSymlinks(key); err == nil {
		key = real
	}
	libraries.Lock()
	defer libraries.Unlock()
	lib := libraries.m[key]
	if lib == nil {
		if lib, err = loadLibrary(key); err != nil {
			return nil, err
		}
		libraries.m[key] = lib
	}
	lib.refs++
	return newModule(lib, path, opts), nil
}

func loadLibrary(path string) (*library, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("pkcs11: module: %w", err)
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("pkcs11: module %s: cannot load it (not a PKCS#11 library, or a dependency is missing)", path)
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		ctx.Destroy()
		return nil, callError("C_Initialize", "", err, false)
	}
	lib := &library{ctx: withPINCalls(ctx, path)}
	if err := lib.readInfo(); err != nil {
		_ = lib.ctx.Finalize()
		lib.ctx.Destroy()
		return nil, err
	}
	lib.waiter = newSlotWaiter(path)
	return lib, nil
}

func (lib *library) readInfo() error {
	info, err := lib.ctx.GetInfo()
	if err != nil {
		return callError("C_GetInfo", "", err, false)
	}
	lib.info = ModuleInfo{
		Manufacturer:    trimField(info.ManufacturerID),
		Description:     trimField(info.LibraryDescription),
		CryptokiVersion: fmt.Sprintf("%d.%d", info.CryptokiVersion.Major, info.CryptokiVersion.Minor),
		LibraryVersion:  fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor),
	}
	return nil
}

// release drops one reference; the last one finalizes and unloads.
func (lib *library) release() error {
	libraries.Lock()
	defer libraries.Unlock()
	lib.refs--
	if lib.refs > 0 {
		return nil
	}
	for k, l := range libraries.m {
		if l == lib {
			delete(libraries.m, k)
		}
	}
	err := lib.ctx.Finalize()
	// C_Finalize makes a blocked C_WaitForSlotEvent return; unloading the
	// library under a thread still inside it would crash, so the library
	// stays loaded if the waiter does not come back.
	if lib.waiter == nil || lib.waiter.stop() {
		lib.ctx.Destroy()
	}
	return callError("C_Finalize", "", err, false)
}

func newModule(lib *library, path string, opts Options) *Module {
	return &Module{lib: lib, path: path, opts: opts.withDefaults(), tokens: map[uint]*Token{}, done: make(chan struct{})}
}

// Close closes the sessions this Module opened and, when it is the last
// Module on its library, finalizes and unloads the library. Keys and
// tokens of a closed Module fail with ErrClosed. Call it once operations
// on its tokens have returned: C_Finalize under a running call fails it.
func (m *Module) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	tokens := m.tokens
	m.tokens = nil
	m.mu.Unlock()
	for _, t := range tokens {
		t.pool.close(ErrClosed)
	}
	return m.lib.release()
}

// Path is the file the module was opened from.
func (m *Module) Path() string { return m.path }

// Info describes the module.
func (m *Module) Info() ModuleInfo {
	info := m.lib.info
	info.Path = m.path
	return info
}

// Options returns the options the module was opened with (defaults filled in).
func (m *Module) Options() Options { return m.opts }

func (m *Module) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Slot is a reader or token holder of a module.
type Slot struct {
	ID           uint
	Description  string
	Manufacturer string
	Present      bool // a token is in the slot
	Removable    bool // the token can be taken out
	Hardware     bool
}

// Slots lists every slot of the module, with or without a token.
func (m *Module) Slots() ([]Slot, error) {
	if m.isClosed() {
		return nil, ErrClosed
	}
	ids, err := m.lib.ctx.GetSlotList(false)
	if err != nil {
		return nil, callError("C_GetSlotList", "", err, false)
	}
	slots := make([]Slot, 0, len(ids))
	for _, id := range ids {
		si, err := m.lib.ctx.GetSlotInfo(id)
		if err != nil {
			return nil, callError("C_GetSlotInfo", "", err, false)
		}
		slots = append(slots, Slot{
			ID:           id,
			Description:  trimField(si.SlotDescription),
			Manufacturer: trimField(si.ManufacturerID),
			Present:      si.Flags&p11.CKF_TOKEN_PRESENT != 0,
			Removable:    si.Flags&p11.CKF_REMOVABLE_DEVICE != 0,
			Hardware:     si.Flags&p11.CKF_HW_SLOT != 0,
		})
	}
	return slots, nil
}

// Tokens lists the tokens present in the module's slots, in slot order.
// The *Token of a slot stays the same while the same token (by serial
// number) stays in it, so its session pool and login survive.
func (m *Module) Tokens() ([]*Token, error) {
	if m.isClosed() {
		return nil, ErrClosed
	}
	ids, err := m.lib.ctx.GetSlotList(true)
	if err != nil {
		return nil, callError("C_GetSlotList", "", err, false)
	}
	tokens := make([]*Token, 0, len(ids))
	for _, id := range ids {
		t, err := m.Token(id)
		if errors.Is(err, ErrTokenNotPresent) {
			continue // pulled between the two calls
		}
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	return tokens, nil
}

// Token returns the token in the slot, or an error matching
// ErrTokenNotPresent.
func (m *Module) Token(slotID uint) (*Token, error) {
	if m.isClosed() {
		return nil, ErrClosed // the library may be unloaded
	}
	ti, err := m.lib.ctx.GetTokenInfo(slotID)
	if err != nil {
		return nil, callError("C_GetTokenInfo", "", err, false)
	}
	info := tokenInfo(slotID, ti)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if t := m.tokens[slotID]; t != nil {
		if t.sameToken(info) {
			t.setInfo(info)
			return t, nil
		}
		t.pool.close(swappedError(slotID, info))
	}
	t := newToken(m, info)
	m.tokens[slotID] = t
	return t, nil
}

// mechanisms reads what the token in the slot can do.
func (m *Module) mechanisms(slotID uint, label string) ([]Mechanism, error) {
	list, err := m.lib.ctx.GetMechanismList(slotID)
	if err != nil {
		return nil, callError("C_GetMechanismList", label, err, false)
	}
	mechs := make([]Mechanism, 0, len(list))
	for _, mech := range list {
		mi, err := m.lib.ctx.GetMechanismInfo(slotID, []*p11.Mechanism{p11.NewMechanism(mech.Mechanism, nil)})
		if err != nil {
			return nil, callError("C_GetMechanismInfo", label, err, false)
		}
		mechs = append(mechs, Mechanism{Type: mech.Mechanism, MinKeySize: mi.MinKeySize, MaxKeySize: mi.MaxKeySize, Flags: mi.Flags})
	}
	return mechs, nil
}

// Modules is a set of opened modules, as a CLI or the agent uses them.
type Modules []*Module

// OpenAll opens every module in paths with the same options. On error the
// modules already opened are closed again.
func OpenAll(paths []string, opts Options) (Modules, error) {
	ms := make(Modules, 0, len(paths))
	for _, p := range paths {
		m, err := Open(p, opts)
		if err != nil {
			_ = ms.Close()
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// Close closes every module, returning the first error.
func (ms Modules) Close() error {
	var first error
	for _, m := range ms {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Tokens lists the present tokens of every module, module by module.
func (ms Modules) Tokens() ([]*Token, error) {
	var all []*Token
	for _, m := range ms {
		ts, err := m.Tokens()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path(), err)
		}
		all = append(all, ts...)
	}
	return all, nil
}

// FindToken picks one token by a pkcs11: URI or by label. An empty ref
// picks the only present token. The URI's module-path, when given,
// (or module-name) restricts the search to that module. No match is ErrNotFound; several
// are ErrAmbiguous.
func (ms Modules) FindToken(ref string) (*Token, error) {
	var u *URI
	if strings.HasPrefix(ref, uriScheme) {
		var err error
		if u, err = ParseURI(ref); err != nil {
			return nil, err
		}
	} else {
		u = &URI{Token: ref}
	}
	var found []*Token
	for _, m := range ms {
		if !u.MatchModule(m.Path()) {
			continue
		}
		ts, err := m.Tokens()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path(), err)
		}
		for _, t := range ts {
			if u.MatchToken(t.Info()) {
				found = append(found, t)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no token matches %q", ErrNotFound, ref)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: %d tokens match %q", ErrAmbiguous, len(found), ref)
}

// FindKey picks one key by a pkcs11: URI: its token attributes (and
// module-path) choose the token as FindToken does, its object, id and type
// the key as Token.FindKey does.
func (ms Modules) FindKey(ctx context.Context, uri string) (*Key, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	tokenURI := *u
	tokenURI.Object, tokenURI.ID, tokenURI.Type = "", nil, ""
	t, err := ms.FindToken(tokenURI.String())
	if err != nil {
		return nil, err
	}
	return t.findKey(ctx, u)
}

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// trimField strips the blank (or, from sloppy modules, NUL) padding of the
// fixed-width PKCS#11 text fields.
func trimField(s string) string { return strings.TrimRight(s, " \x00") }
