package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// TokenInfo describes a token (C_GetTokenInfo).
type TokenInfo struct {
	SlotID       uint
	Label        string
	Manufacturer string
	Model        string
	Serial       string
	Flags        uint // raw CKF_ token flags

	Initialized        bool // CKF_TOKEN_INITIALIZED
	LoginRequired      bool // CKF_LOGIN_REQUIRED
	UserPINInitialized bool // CKF_USER_PIN_INITIALIZED
	ProtectedAuthPath  bool // PINs are entered on the device itself
	WriteProtected     bool

	UserPIN PINState
	SOPIN   PINState

	MinPINLen, MaxPINLen uint
}

func tokenInfo(slot uint, ti p11.TokenInfo) TokenInfo {
	return TokenInfo{
		SlotID:             slot,
		Label:              trimField(ti.Label),
		Manufacturer:       trimField(ti.ManufacturerID),
		Model:              trimField(ti.Model),
		Serial:             trimField(ti.SerialNumber),
		Flags:              ti.Flags,
		Initialized:        ti.Flags&p11.CKF_TOKEN_INITIALIZED != 0,
		LoginRequired:      ti.Flags&p11.CKF_LOGIN_REQUIRED != 0,
		UserPINInitialized: ti.Flags&p11.CKF_USER_PIN_INITIALIZED != 0,
		ProtectedAuthPath:  ti.Flags&p11.CKF_PROTECTED_AUTHENTICATION_PATH != 0,
		WriteProtected:     ti.Flags&p11.CKF_WRITE_PROTECTED != 0,
		UserPIN:            userPINState(ti.Flags),
		SOPIN:              soPINState(ti.Flags),
		MinPINLen:          ti.MinPinLen,
		MaxPINLen:          ti.MaxPinLen,
	}
}

// Mechanism is one mechanism a token offers (C_GetMechanismInfo).
type Mechanism struct {
	Type                   uint
	MinKeySize, MaxKeySize uint
	Flags                  uint // CKF_SIGN, CKF_GENERATE_KEY_PAIR, ...
}

func (m Mechanism) String() string { return MechanismName(m.Type) }

// Token is a token in a slot of a Module. Methods are safe for concurrent
// use; each operation borrows a session from the token's pool.
type Token struct {
	mod  *Module
	slot uint
	pool *pool

	mu     sync.Mutex
	info   TokenInfo
	mechs  []Mechanism
	prompt PINPrompt

	loginMu sync.Mutex // one login (and one prompt) at a time

	handleMu sync.Mutex
	handles  handleCache // private key handles, see handles.go

	beforeSign func() // test hook, run between C_SignInit and C_Sign
}

func newToken(m *Module, info TokenInfo) *Token {
	t := &Token{mod: m, slot: info.SlotID, info: info}
	t.pool = newPool(t, m.opts.MaxSessions)
	return t
}

// Module is the module the token belongs to.
func (t *Token) Module() *Module { return t.mod }

// SlotID is the slot the token is in.
func (t *Token) SlotID() uint { return t.slot }

// Info is the token information as last read (at discovery, or by Refresh).
func (t *Token) Info() TokenInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.info
}

func (t *Token) setInfo(info TokenInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.info = info
}

func (t *Token) label() string { return t.Info().Label }

// sameToken reports whether info, just read from the slot, is still this
// token: a slot whose token was swapped must not serve the old token's
// keys or login.
func (t *Token) sameToken(info TokenInfo) bool {
	cur := t.Info()
	return cur.Serial == info.Serial && cur.Manufacturer == info.Manufacturer && cur.Model == info.Model
}

// Refresh reads the token information again, e.g. for the PIN state.
func (t *Token) Refresh() (TokenInfo, error) {
	if t.mod.isClosed() {
		return TokenInfo{}, ErrClosed
	}
	ti, err := t.mod.lib.ctx.GetTokenInfo(t.slot)
	if err != nil {
		return TokenInfo{}, callError("C_GetTokenInfo", t.label(), err, false)
	}
	info := tokenInfo(t.slot, ti)
	if !t.sameToken(info) {
		return TokenInfo{}, swappedError(t.slot, info)
	}
	t.setInfo(info)
	return info, nil
}

// swappedError is what the old *Token of a slot answers once the slot
// holds another token (info).
func swappedError(slot uint, info TokenInfo) error {
	return fmt.Errorf("%w: slot %d now holds token %q (serial %s)", ErrTokenNotPresent, slot, info.Label, info.Serial)
}

// URI names the token (token, manufacturer, serial, model) with the
// module path as a query attribute.
func (t *Token) URI() *URI {
	info := t.Info()
	return &URI{Token: info.Label, Manufacturer: info.Manufacturer, Serial: info.Serial, Model: info.Model, ModulePath: t.mod.Path()}
}

// Mechanisms lists the mechanisms the token offers.
func (t *Token) Mechanisms() ([]Mechanism, error) {
	t.mu.Lock()
	mechs := t.mechs
	t.mu.Unlock()
	if mechs != nil {
		return mechs, nil
	}
	if t.mod.isClosed() {
		return nil, ErrClosed
	}
	mechs, err := t.mod.mechanisms(t.slot, t.label())
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.mechs = mechs
	t.mu.Unlock()
	return mechs, nil
}

// requireMechanism fails with a *MechanismError unless the token lists
// mech with all of flags.
func (t *Token) requireMechanism(mech, flags uint) error {
	mechs, err := t.Mechanisms()
	if err != nil {
		return err
	}
	for _, m := range mechs {
		if m.Type == mech && m.Flags&flags == flags {
			return nil
		}
	}
	return &MechanismError{Token: t.label(), Mechanism: mech}
}

// do runs f on a session borrowed from the pool. Errors that say the
// token went away drop the pool's sessions. If the failed session had sat
// idle in the pool and the token is back (it was pulled and re-inserted in
// between), f runs once more on a fresh session.
func (t *Token) do(ctx context.Context, f func(s p11.SessionHandle) error) error {
	s, err := t.pool.get(ctx)
	if err != nil {
		return err
	}
	err = f(s.h)
	if !isRemoval(err) {
		t.pool.put(s)
		return err
	}
	t.pool.invalidate()
	t.pool.put(s)
	if !s.reused {
		return err
	}
	if _, rerr := t.Refresh(); rerr != nil {
		return err
	}
	if s, err = t.pool.get(ctx); err != nil {
		return err
	}
	err = f(s.h)
	if isRemoval(err) {
		t.pool.invalidate()
	}
	t.pool.put(s)
	return err
}

// call wraps the error of a PKCS#11 function run on a pooled session.
func (t *Token) call(op string, err error) error {
	return callError(op, t.label(), err, true)
}

// sessionUser is who the session (and so the whole application, for the
// token) is logged in as; loggedIn is false for nobody.
func (t *Token) sessionUser(s p11.SessionHandle) (who UserType, loggedIn bool, err error) {
	si, err := t.mod.lib.ctx.GetSessionInfo(s)
	if err != nil {
		return 0, false, t.call("C_GetSessionInfo", err)
	}
	switch si.State {
	case p11.CKS_RO_USER_FUNCTIONS, p11.CKS_RW_USER_FUNCTIONS:
		return User, true, nil
	case p11.CKS_RW_SO_FUNCTIONS:
		return SecurityOfficer, true, nil
	}
	return 0, false, nil
}

// Login logs the user in, asking prompt for the PIN. After a successful
// login, prompt becomes the token's prompt for later logins (after the
// token was re-inserted, or for keys that want the PIN before every
// signature). Login tries once: a wrong PIN returns a *PINError with the
// PIN state after it, and the caller decides whether to ask again. A
// locked PIN is reported without asking. Being logged in already is
// success without a prompt.
func (t *Token) Login(ctx context.Context, prompt PINPrompt) error {
	if prompt == nil {
		return errors.New("pkcs11: Login: nil PIN prompt")
	}
	return t.do(ctx, func(s p11.SessionHandle) error { return t.ensureLogin(ctx, s, prompt) })
}

// ensureLogin logs the user in on s (and so on every session of the token)
// unless already done, with prompt or else the token's prompt. A prompt
// that logged in becomes the token's prompt; the token's prompt is dropped
// when its PIN is refused, so that a stale PIN (a PIN file whose PIN was
// changed) cannot burn one retry per operation.
func (t *Token) ensureLogin(ctx context.Context, s p11.SessionHandle, prompt PINPrompt) error {
	t.loginMu.Lock()
	defer t.loginMu.Unlock()
	who, loggedIn, err := t.sessionUser(s)
	if err != nil {
		return err
	}
	if loggedIn && who == User {
		// Logged in already (maybe by another Module on the library): keep
		// the caller's prompt for keys that ask for the PIN again.
		if prompt != nil {
			t.mu.Lock()
			if t.prompt == nil {
				t.prompt = prompt
			}
			t.mu.Unlock()
		}
		return nil
	}
	if loggedIn {
		if err := t.mod.lib.ctx.Logout(s); err != nil {
			return t.call("C_Logout", err)
		}
	}
	if prompt == nil {
		t.mu.Lock()
		prompt = t.prompt
		t.mu.Unlock()
	}
	if prompt == nil {
		return fmt.Errorf("%w: token %q", ErrLoginRequired, t.label())
	}
	t.forgetHandles()
	err = t.login(ctx, s, User, prompt)
	var pe *PINError
	switch {
	case err == nil:
		t.setPrompt(prompt)
	case errors.As(err, &pe):
		t.setPrompt(nil)
	}
	return err
}

func (t *Token) setPrompt(p PINPrompt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prompt = p
}

// login asks prompt for the PIN of user and logs in on s. A locked PIN is
// reported without asking; a prompt error or an empty PIN never reaches
// the token.
func (t *Token) login(ctx context.Context, s p11.SessionHandle, user UserType, prompt PINPrompt) error {
	info, err := t.Refresh()
	if err != nil {
		return err
	}
	state := info.UserPIN
	if user == SecurityOfficer {
		state = info.SOPIN
	}
	if state.Locked {
		return &PINError{Token: info.Label, User: user, State: state, Err: ErrPINLocked}
	}
	var pin PIN
	if !info.ProtectedAuthPath {
		if pin, err = prompt(ctx, PINRequest{Token: info, User: user, State: state}); err != nil {
			return fmt.Errorf("pkcs11: getting the %s for token %q: %w", user, info.Label, err)
		}
		defer pin.Zero()
		if pin.Len() == 0 {
			return ErrNoPIN
		}
	}
	err = t.mod.lib.ctx.Login(s, uint(user), pin.pinString())
	if rv, ok := rvCode(err); ok && rv == p11.CKR_USER_ALREADY_LOGGED_IN {
		return nil
	}
	return t.pinError("C_Login", user, err)
}

// pinError turns a refused PIN into a *PINError carrying the PIN state
// read after the refusal; other errors pass through callError.
func (t *Token) pinError(op string, user UserType, err error) error {
	if err == nil {
		return nil
	}
	rv, _ := rvCode(err)
	if rv != p11.CKR_PIN_INCORRECT && rv != p11.CKR_PIN_LOCKED {
		return t.call(op, err)
	}
	pe := &PINError{Token: t.label(), User: user, Err: ErrPINIncorrect}
	if rv == p11.CKR_PIN_LOCKED {
		pe.Err = ErrPINLocked
	}
	if info, ierr := t.Refresh(); ierr == nil {
		pe.State = info.UserPIN
		if user == SecurityOfficer {
			pe.State = info.SOPIN
		}
	}
	if rv == p11.CKR_PIN_LOCKED {
		pe.State.Locked = true
	}
	return pe
}

// Logout logs out whoever is logged in on the token.
func (t *Token) Logout(ctx context.Context) error {
	return t.do(ctx, func(s p11.SessionHandle) error {
		t.forgetHandles()
		err := t.mod.lib.ctx.Logout(s)
		if rv, ok := rvCode(err); ok && rv == p11.CKR_USER_NOT_LOGGED_IN {
			return nil
		}
		return t.call("C_Logout", err)
	})
}

// SetPIN changes the user PIN (C_SetPIN in a session not logged in, which
// checks oldPIN). A wrong oldPIN is a *PINError. Both PINs are consumed.
func (t *Token) SetPIN(ctx context.Context, oldPIN, newPIN PIN) error {
	defer oldPIN.Zero()
	defer newPIN.Zero()
	if oldPIN.Len() == 0 || newPIN.Len() == 0 {
		return ErrNoPIN
	}
	err := t.do(ctx, func(s p11.SessionHandle) error {
		err := t.mod.lib.ctx.SetPIN(s, oldPIN.pinString(), newPIN.pinString())
		return t.pinError("C_SetPIN", User, err)
	})
	if err == nil {
		_, err = t.Refresh() // the PIN flags changed
	}
	return err
}

// InitPIN sets the user PIN as the security officer: it sets the first
// user PIN of a fresh token and unblocks a locked one. It logs out a
// logged-in user first (PKCS#11 has one login per token and
// application) and logs the SO out afterwards. A wrong soPIN is a
// *PINError. Both PINs are consumed.
func (t *Token) InitPIN(ctx context.Context, soPIN, userPIN PIN) error {
	defer soPIN.Zero()
	defer userPIN.Zero()
	if soPIN.Len() == 0 || userPIN.Len() == 0 {
		return ErrNoPIN
	}
	err := t.do(ctx, func(s p11.SessionHandle) error {
		return t.asSO(ctx, s, soPIN, func() error {
			return t.call("C_InitPIN", t.mod.lib.ctx.InitPIN(s, userPIN.pinString()))
		})
	})
	if err == nil {
		_, err = t.Refresh() // the PIN flags changed
	}
	return err
}

// asSO runs f logged in as the SO with soPIN, then logs out.
func (t *Token) asSO(ctx context.Context, s p11.SessionHandle, soPIN PIN, f func() error) error {
	t.loginMu.Lock()
	defer t.loginMu.Unlock()
	_, loggedIn, err := t.sessionUser(s)
	if err != nil {
		return err
	}
	if loggedIn {
		if err := t.mod.lib.ctx.Logout(s); err != nil {
			return t.call("C_Logout", err)
		}
	}
	supply := func(context.Context, PINRequest) (PIN, error) { return soPIN, nil }
	if err := t.login(ctx, s, SecurityOfficer, supply); err != nil {
		return err
	}
	ferr := f()
	if err := t.mod.lib.ctx.Logout(s); err != nil && ferr == nil && !isRemoval(t.call("C_Logout", err)) {
		ferr = t.call("C_Logout", err)
	}
	return ferr
}

// InitToken (re)initializes the token: C_InitToken with soPIN and label,
// which destroys every object on it, then sets the user PIN with
// C_InitPIN. It returns the token as found afterwards: some modules
// (SoftHSM2) move a freshly initialized token to a new slot. Open
// sessions on the token are closed first, as C_InitToken requires. Both
// PINs are consumed.
func (t *Token) InitToken(ctx context.Context, label string, soPIN, userPIN PIN) (*Token, error) {
	defer soPIN.Zero()
	defer userPIN.Zero()
	if soPIN.Len() == 0 || userPIN.Len() == 0 {
		return nil, ErrNoPIN
	}
	if len(label) > 32 {
		return nil, fmt.Errorf("pkcs11: token label %q longer than 32 bytes", label)
	}
	m := t.mod
	others := map[string]bool{}
	if ts, err := m.Tokens(); err == nil {
		for _, o := range ts {
			if o != t {
				others[o.Info().Serial] = true
			}
		}
	}
	t.pool.invalidate()
	if err := m.lib.ctx.CloseAllSessions(t.slot); err != nil {
		return nil, callError("C_CloseAllSessions", t.label(), err, false)
	}
	if err := m.lib.ctx.InitToken(t.slot, soPIN.pinString(), label); err != nil {
		return nil, t.pinError("C_InitToken", SecurityOfficer, err)
	}
	nt, err := m.findInitialized(t.slot, label, others)
	if err != nil {
		return nil, err
	}
	return nt, nt.InitPIN(ctx, soPIN.clone(), userPIN.clone())
}

// findInitialized finds the token just initialized with label: in the same
// slot, or else the one token with that label whose serial is new.
func (m *Module) findInitialized(slot uint, label string, others map[string]bool) (*Token, error) {
	ts, err := m.Tokens()
	if err != nil {
		return nil, err
	}
	var found []*Token
	for _, o := range ts {
		info := o.Info()
		if info.Label != label || !info.Initialized {
			continue
		}
		if o.slot == slot {
			return o, nil
		}
		if !others[info.Serial] {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%w: the token initialized as %q is not found again", ErrNotFound, label)
	}
	return found[0], nil
}

// InitToken initializes the module's first present token that is not
// initialized yet (see Token.InitToken). Both PINs are consumed, also
// when there is no such token (ErrNotFound).
func (m *Module) InitToken(ctx context.Context, label string, soPIN, userPIN PIN) (*Token, error) {
	return Modules{m}.InitToken(ctx, label, soPIN, userPIN)
}

// InitToken initializes the first present token that is not initialized
// yet, looking through the modules in order (with the softtoken that is
// its spare slot). Both PINs are consumed, also when there is no such
// token (ErrNotFound).
func (ms Modules) InitToken(ctx context.Context, label string, soPIN, userPIN PIN) (*Token, error) {
	for _, m := range ms {
		ts, err := m.Tokens()
		if err != nil {
			soPIN.Zero()
			userPIN.Zero()
			return nil, fmt.Errorf("%s: %w", m.Path(), err)
		}
		for _, t := range ts {
			if !t.Info().Initialized {
				return t.InitToken(ctx, label, soPIN, userPIN)
			}
		}
	}
	soPIN.Zero()
	userPIN.Zero()
	return nil, fmt.Errorf("%w: no uninitialized token", ErrNotFound)
}
