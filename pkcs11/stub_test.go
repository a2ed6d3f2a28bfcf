package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/gostkey/gostkey/gost"
)

// stub is an in-memory PKCS#11 module for unit tests: one application's
// view of a few slots, with PIN counters, objects, ECDSA and GOST keys
// (signing in software), and a log of the calls made.
type stub struct {
	mu       sync.Mutex
	calls    []string
	slots    []*stubSlot
	sessions map[p11.SessionHandle]*stubSession
	next     uint
	// reversed makes GOST signing read the digest reversed, as OpenSC does.
	reversed bool
	// corrupt makes C_Sign return a signature that does not verify.
	corrupt bool
	// onSign runs inside C_Sign before it answers, e.g. to pull the token.
	onSign func()
	// alwaysAuth makes generated private keys CKA_ALWAYS_AUTHENTICATE.
	alwaysAuth bool
	// endlessFind makes C_FindObjects ignore its cursor and return the
	// first matches on every call, as a broken module might; findCalls
	// counts the calls so a test can tell the loop stopped by itself.
	endlessFind bool
	findCalls   int
	// badPublic makes generated public keys carry a point off the curve.
	badPublic bool
}

type stubSlot struct {
	id        uint
	present   bool
	info      p11.TokenInfo
	userPIN   string
	soPIN     string
	tries     int // wrong user PINs in a row
	limit     int
	loggedIn  uint // CKU_ user type + 1, 0 for nobody
	objects   map[p11.ObjectHandle][]*p11.Attribute
	secrets   map[p11.ObjectHandle]crypto.Signer
	mechanism []uint
}

type stubSession struct {
	slot    *stubSlot
	find    []p11.ObjectHandle
	signKey p11.ObjectHandle
	signing bool
	needPIN bool // the key wants a context-specific login before C_Sign
	alive   bool
}

func newStub(slots int) *stub {
	s := &stub{sessions: map[p11.SessionHandle]*stubSession{}, next: 1}
	for i := range slots {
		s.slots = append(s.slots, &stubSlot{
			id:      uint(i),
			present: true,
			info: p11.TokenInfo{
				Label: "stub" + string(rune('A'+i)), ManufacturerID: "gostkey", Model: "stub",
				SerialNumber: "000" + string(rune('1'+i)),
				Flags:        p11.CKF_TOKEN_INITIALIZED | p11.CKF_USER_PIN_INITIALIZED | p11.CKF_LOGIN_REQUIRED,
				MinPinLen:    4, MaxPinLen: 32,
			},
			userPIN: "1234", soPIN: "5678", limit: 3,
			objects: map[p11.ObjectHandle][]*p11.Attribute{},
			secrets: map[p11.ObjectHandle]crypto.Signer{},
			mechanism: []uint{p11.CKM_EC_KEY_PAIR_GEN, p11.CKM_ECDSA, CKM_GOSTR3410_KEY_PAIR_GEN,
				CKM_GOSTR3410, CKM_GOSTR3410_512_KEY_PAIR_GEN, CKM_GOSTR3410_512},
		})
	}
	return s
}

// stubModule opens a Module on a fresh stub.
func stubModule(t *testing.T, st *stub, opts Options) *Module {
	t.Helper()
	lib := &library{ctx: st, refs: 1}
	m := newModule(lib, "stub.so", opts)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func (s *stub) log(name string) {
	s.calls = append(s.calls, name)
}

// count is how many times the call was made.
func (s *stub) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c == name {
			n++
		}
	}
	return n
}

func (s *stub) slot(id uint) (*stubSlot, error) {
	if id >= uint(len(s.slots)) {
		return nil, p11.Error(p11.CKR_SLOT_ID_INVALID)
	}
	if !s.slots[id].present {
		return nil, p11.Error(p11.CKR_TOKEN_NOT_PRESENT)
	}
	return s.slots[id], nil
}

func (s *stub) session(h p11.SessionHandle) (*stubSession, error) {
	ss := s.sessions[h]
	if ss == nil || !ss.alive {
		return nil, p11.Error(p11.CKR_SESSION_HANDLE_INVALID)
	}
	if !ss.slot.present {
		return nil, p11.Error(p11.CKR_DEVICE_REMOVED)
	}
	return ss, nil
}

// remove pulls the token: its sessions die and the login is lost.
func (s *stub) remove(id uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(id)
}

func (s *stub) removeLocked(id uint) {
	sl := s.slots[id]
	sl.present = false
	sl.loggedIn = 0
	for _, ss := range s.sessions {
		if ss.slot == sl {
			ss.alive = false
		}
	}
}

func (s *stub) insert(id uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots[id].present = true
}

func (s *stub) Initialize(...p11.InitializeOption) error { return nil }
func (s *stub) Finalize() error                          { return nil }
func (s *stub) Destroy()                                 {}

func (s *stub) GetInfo() (p11.Info, error) {
	return p11.Info{ManufacturerID: "gostkey", LibraryDescription: "stub"}, nil
}

func (s *stub) GetSlotList(present bool) ([]uint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []uint
	for _, sl := range s.slots {
		if sl.present || !present {
			ids = append(ids, sl.id)
		}
	}
	return ids, nil
}

func (s *stub) GetSlotInfo(id uint) (p11.SlotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id >= uint(len(s.slots)) {
		return p11.SlotInfo{}, p11.Error(p11.CKR_SLOT_ID_INVALID)
	}
	flags := uint(p11.CKF_REMOVABLE_DEVICE)
	if s.slots[id].present {
		flags |= p11.CKF_TOKEN_PRESENT
	}
	return p11.SlotInfo{SlotDescription: "stub slot", Flags: flags}, nil
}

func (s *stub) GetTokenInfo(id uint) (p11.TokenInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_GetTokenInfo")
	sl, err := s.slot(id)
	if err != nil {
		return p11.TokenInfo{}, err
	}
	info := sl.info
	switch {
	case sl.tries >= sl.limit:
		info.Flags |= p11.CKF_USER_PIN_LOCKED
	case sl.tries == sl.limit-1:
		info.Flags |= p11.CKF_USER_PIN_FINAL_TRY | p11.CKF_USER_PIN_COUNT_LOW
	case sl.tries > 0:
		info.Flags |= p11.CKF_USER_PIN_COUNT_LOW
	}
	return info, nil
}

func (s *stub) GetMechanismList(id uint) ([]*p11.Mechanism, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, err := s.slot(id)
	if err != nil {
		return nil, err
	}
	var ms []*p11.Mechanism
	for _, m := range sl.mechanism {
		ms = append(ms, p11.NewMechanism(m, nil))
	}
	return ms, nil
}

func (s *stub) GetMechanismInfo(id uint, m []*p11.Mechanism) (p11.MechanismInfo, error) {
	flags := uint(p11.CKF_SIGN)
	switch m[0].Mechanism {
	case p11.CKM_EC_KEY_PAIR_GEN, CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410_512_KEY_PAIR_GEN:
		flags = p11.CKF_GENERATE_KEY_PAIR
	}
	return p11.MechanismInfo{Flags: flags}, nil
}

func (s *stub) InitToken(id uint, pin, label string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_InitToken")
	sl, err := s.slot(id)
	if err != nil {
		return err
	}
	if pin != sl.soPIN {
		return p11.Error(p11.CKR_PIN_INCORRECT)
	}
	sl.info.Label = label
	sl.info.Flags = p11.CKF_TOKEN_INITIALIZED | p11.CKF_LOGIN_REQUIRED
	sl.objects = map[p11.ObjectHandle][]*p11.Attribute{}
	return nil
}

func (s *stub) InitPIN(h p11.SessionHandle, pin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_InitPIN")
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	if ss.slot.loggedIn != p11.CKU_SO+1 {
		return p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
	}
	ss.slot.userPIN, ss.slot.tries = strings.Clone(pin), 0 // PIN strings alias bytes that are wiped
	ss.slot.info.Flags |= p11.CKF_USER_PIN_INITIALIZED
	return nil
}

func (s *stub) SetPIN(h p11.SessionHandle, oldPIN, newPIN string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_SetPIN")
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	if err := ss.slot.checkUser(oldPIN); err != nil {
		return err
	}
	if len(newPIN) < int(ss.slot.info.MinPinLen) {
		return p11.Error(p11.CKR_PIN_LEN_RANGE)
	}
	ss.slot.userPIN = strings.Clone(newPIN)
	return nil
}

func (sl *stubSlot) checkUser(pin string) error {
	if sl.tries >= sl.limit {
		return p11.Error(p11.CKR_PIN_LOCKED)
	}
	if pin != sl.userPIN {
		sl.tries++
		return p11.Error(p11.CKR_PIN_INCORRECT)
	}
	sl.tries = 0
	return nil
}

func (s *stub) OpenSession(id uint, flags uint) (p11.SessionHandle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_OpenSession")
	sl, err := s.slot(id)
	if err != nil {
		return 0, err
	}
	h := p11.SessionHandle(s.next)
	s.next++
	s.sessions[h] = &stubSession{slot: sl, alive: true}
	return h, nil
}

func (s *stub) CloseSession(h p11.SessionHandle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_CloseSession")
	if _, ok := s.sessions[h]; !ok {
		return p11.Error(p11.CKR_SESSION_HANDLE_INVALID)
	}
	delete(s.sessions, h)
	return nil
}

func (s *stub) CloseAllSessions(id uint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, ss := range s.sessions {
		if ss.slot.id == id {
			delete(s.sessions, h)
		}
	}
	s.slots[id].loggedIn = 0
	return nil
}

func (s *stub) GetSessionInfo(h p11.SessionHandle) (p11.SessionInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.session(h)
	if err != nil {
		return p11.SessionInfo{}, err
	}
	state := uint(p11.CKS_RW_PUBLIC_SESSION)
	switch ss.slot.loggedIn {
	case p11.CKU_USER + 1:
		state = p11.CKS_RW_USER_FUNCTIONS
	case p11.CKU_SO + 1:
		state = p11.CKS_RW_SO_FUNCTIONS
	}
	return p11.SessionInfo{SlotID: ss.slot.id, State: state}, nil
}

func (s *stub) Login(h p11.SessionHandle, user uint, pin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_Login")
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	sl := ss.slot
	if user == p11.CKU_CONTEXT_SPECIFIC {
		if !ss.signing || sl.loggedIn != p11.CKU_USER+1 {
			return p11.Error(p11.CKR_OPERATION_NOT_INITIALIZED)
		}
		if err := sl.checkUser(pin); err != nil {
			return err
		}
		ss.needPIN = false
		return nil
	}
	if sl.loggedIn != 0 {
		if sl.loggedIn == user+1 {
			return p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)
		}
		return p11.Error(p11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
	}
	if user == p11.CKU_SO {
		if pin != sl.soPIN {
			return p11.Error(p11.CKR_PIN_INCORRECT)
		}
	} else if err := sl.checkUser(pin); err != nil {
		return err
	}
	sl.loggedIn = user + 1
	return nil
}

func (s *stub) Logout(h p11.SessionHandle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_Logout")
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	if ss.slot.loggedIn == 0 {
		return p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
	}
	ss.slot.loggedIn = 0
	return nil
}

func (s *stub) newObject(sl *stubSlot, attrs []*p11.Attribute) p11.ObjectHandle {
	h := p11.ObjectHandle(s.next)
	s.next++
	sl.objects[h] = slices.Clone(attrs)
	return h
}

func (s *stub) CreateObject(h p11.SessionHandle, attrs []*p11.Attribute) (p11.ObjectHandle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_CreateObject")
	ss, err := s.session(h)
	if err != nil {
		return 0, err
	}
	return s.newObject(ss.slot, attrs), nil
}

func (s *stub) DestroyObject(h p11.SessionHandle, o p11.ObjectHandle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_DestroyObject")
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	if _, ok := ss.slot.objects[o]; !ok {
		return p11.Error(p11.CKR_OBJECT_HANDLE_INVALID)
	}
	delete(ss.slot.objects, o)
	return nil
}

func attr(attrs []*p11.Attribute, typ uint) ([]byte, bool) {
	for _, a := range attrs {
		if a.Type == typ {
			return a.Value, true
		}
	}
	return nil, false
}

func (s *stub) GetAttributeValue(h p11.SessionHandle, o p11.ObjectHandle, want []*p11.Attribute) ([]*p11.Attribute, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.session(h)
	if err != nil {
		return nil, err
	}
	attrs, ok := ss.slot.objects[o]
	if !ok {
		return nil, p11.Error(p11.CKR_OBJECT_HANDLE_INVALID)
	}
	var out []*p11.Attribute
	for _, w := range want {
		v, ok := attr(attrs, w.Type)
		if !ok {
			return nil, p11.Error(p11.CKR_ATTRIBUTE_TYPE_INVALID)
		}
		out = append(out, p11.NewAttribute(w.Type, v))
	}
	return out, nil
}

func (s *stub) SetAttributeValue(h p11.SessionHandle, o p11.ObjectHandle, set []*p11.Attribute) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_SetAttributeValue")
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	attrs, ok := ss.slot.objects[o]
	if !ok {
		return p11.Error(p11.CKR_OBJECT_HANDLE_INVALID)
	}
	for _, a := range set {
		found := false
		for _, have := range attrs {
			if have.Type == a.Type {
				have.Value, found = append([]byte(nil), a.Value...), true
			}
		}
		if !found {
			attrs = append(attrs, p11.NewAttribute(a.Type, a.Value))
		}
	}
	ss.slot.objects[o] = attrs
	return nil
}

func (s *stub) FindObjectsInit(h p11.SessionHandle, template []*p11.Attribute) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	ss.find = nil
	for o, attrs := range ss.slot.objects {
		if private, _ := attr(attrs, p11.CKA_PRIVATE); boolAttr(private) && ss.slot.loggedIn != p11.CKU_USER+1 {
			continue
		}
		match := true
		for _, t := range template {
			if v, ok := attr(attrs, t.Type); !ok || !bytes.Equal(v, t.Value) {
				match = false
			}
		}
		if match {
			ss.find = append(ss.find, o)
		}
	}
	slices.Sort(ss.find)
	return nil
}

func (s *stub) FindObjects(h p11.SessionHandle, max int) ([]p11.ObjectHandle, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.session(h)
	if err != nil {
		return nil, false, err
	}
	n := min(max, len(ss.find))
	out := ss.find[:n]
	s.findCalls++
	if s.endlessFind {
		if s.findCalls > 10000 {
			return nil, false, p11.Error(p11.CKR_GENERAL_ERROR)
		}
		return slices.Clone(out), false, nil
	}
	ss.find = ss.find[n:]
	return out, false, nil
}

func (s *stub) FindObjectsFinal(h p11.SessionHandle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.session(h)
	return err
}

func (s *stub) SignInit(h p11.SessionHandle, m []*p11.Mechanism, o p11.ObjectHandle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_SignInit")
	ss, err := s.session(h)
	if err != nil {
		return err
	}
	if ss.slot.loggedIn != p11.CKU_USER+1 {
		return p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
	}
	if _, ok := ss.slot.secrets[o]; !ok {
		return p11.Error(p11.CKR_KEY_HANDLE_INVALID)
	}
	ss.signKey, ss.signing = o, true
	always, _ := attr(ss.slot.objects[o], p11.CKA_ALWAYS_AUTHENTICATE)
	ss.needPIN = boolAttr(always)
	return nil
}

func (s *stub) Sign(h p11.SessionHandle, data []byte) ([]byte, error) {
	s.mu.Lock()
	if s.onSign != nil {
		f := s.onSign
		s.mu.Unlock()
		f()
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	s.log("C_Sign")
	ss, err := s.session(h)
	if err != nil {
		return nil, err
	}
	if !ss.signing {
		return nil, p11.Error(p11.CKR_OPERATION_NOT_INITIALIZED)
	}
	ss.signing = false
	if ss.needPIN {
		return nil, p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
	}
	var sig []byte
	switch k := ss.slot.secrets[ss.signKey].(type) {
	case *ecdsa.PrivateKey:
		der, err := k.Sign(rand.Reader, data, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig = append(rs.R.FillBytes(make([]byte, size)), rs.S.FillBytes(make([]byte, size))...)
	case *gost.PrivateKey:
		digest := bytes.Clone(data)
		if s.reversed {
			slices.Reverse(digest)
		}
		if sig, err = k.Sign(rand.Reader, digest, nil); err != nil {
			return nil, p11.Error(p11.CKR_DATA_LEN_RANGE)
		}
	}
	if s.corrupt {
		sig[len(sig)-1] ^= 1
	}
	return sig, nil
}

func (s *stub) GenerateKeyPair(h p11.SessionHandle, m []*p11.Mechanism, pubT, privT []*p11.Attribute) (p11.ObjectHandle, p11.ObjectHandle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("C_GenerateKeyPair")
	ss, err := s.session(h)
	if err != nil {
		return 0, 0, err
	}
	if ss.slot.loggedIn != p11.CKU_USER+1 {
		return 0, 0, p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
	}
	pubT = slices.Clone(pubT)
	var secret crypto.Signer
	switch m[0].Mechanism {
	case p11.CKM_EC_KEY_PAIR_GEN:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return 0, 0, err
		}
		raw, err := k.PublicKey.Bytes()
		if err != nil {
			return 0, 0, err
		}
		point, _ := asn1.Marshal(raw)
		pubT = append(pubT, p11.NewAttribute(p11.CKA_EC_POINT, point))
		secret = k
	case CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410_512_KEY_PAIR_GEN:
		params, _ := attr(pubT, CKA_GOSTR3410_PARAMS)
		oid, err := parseOID(params)
		if err != nil {
			return 0, 0, p11.Error(p11.CKR_TEMPLATE_INCONSISTENT)
		}
		curve, ok := gost.CurveByOID(oid)
		if !ok {
			return 0, 0, p11.Error(p11.CKR_TEMPLATE_INCONSISTENT)
		}
		k, err := gost.GenerateKey(curve, rand.Reader)
		if err != nil {
			return 0, 0, err
		}
		pubT = append(pubT, p11.NewAttribute(p11.CKA_VALUE, k.PublicKey.Bytes()))
		secret = k
	default:
		return 0, 0, p11.Error(p11.CKR_MECHANISM_INVALID)
	}
	if s.alwaysAuth {
		privT = append(slices.Clone(privT), p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, true))
	}
	if s.badPublic {
		for i, a := range pubT {
			if a.Type == p11.CKA_VALUE || a.Type == p11.CKA_EC_POINT {
				v := slices.Clone(a.Value)
				v[len(v)-1] ^= 1
				pubT[i] = p11.NewAttribute(a.Type, v)
			}
		}
	}
	pub := s.newObject(ss.slot, pubT)
	priv := s.newObject(ss.slot, privT)
	ss.slot.secrets[priv] = secret
	return pub, priv, nil
}

var _ cryptoki = (*stub)(nil)
