package pkcs11

import (
	p11 "github.com/miekg/pkcs11"
)

// cryptoki lists the github.com/miekg/pkcs11 Ctx methods this package
// calls, and nothing else, so that unit tests can stand in a stub for a
// real module (the stub lives in stub_test.go). PIN arguments alias
// memory that is wiped after the call: implementations must copy them.
type cryptoki interface {
	Initialize(opts ...p11.InitializeOption) error
	Finalize() error
	Destroy()
	GetInfo() (p11.Info, error)
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetSlotInfo(slotID uint) (p11.SlotInfo, error)
	GetTokenInfo(slotID uint) (p11.TokenInfo, error)
	GetMechanismList(slotID uint) ([]*p11.Mechanism, error)
	GetMechanismInfo(slotID uint, m []*p11.Mechanism) (p11.MechanismInfo, error)
	InitToken(slotID uint, pin string, label string) error
	InitPIN(sh p11.SessionHandle, pin string) error
	SetPIN(sh p11.SessionHandle, oldpin string, newpin string) error
	OpenSession(slotID uint, flags uint) (p11.SessionHandle, error)
	CloseSession(sh p11.SessionHandle) error
	CloseAllSessions(slotID uint) error
	GetSessionInfo(sh p11.SessionHandle) (p11.SessionInfo, error)
	Login(sh p11.SessionHandle, userType uint, pin string) error
	Logout(sh p11.SessionHandle) error
	CreateObject(sh p11.SessionHandle, temp []*p11.Attribute) (p11.ObjectHandle, error)
	DestroyObject(sh p11.SessionHandle, oh p11.ObjectHandle) error
	GetAttributeValue(sh p11.SessionHandle, o p11.ObjectHandle, a []*p11.Attribute) ([]*p11.Attribute, error)
	SetAttributeValue(sh p11.SessionHandle, o p11.ObjectHandle, a []*p11.Attribute) error
	FindObjectsInit(sh p11.SessionHandle, temp []*p11.Attribute) error
	FindObjects(sh p11.SessionHandle, max int) ([]p11.ObjectHandle, bool, error)
	FindObjectsFinal(sh p11.SessionHandle) error
	SignInit(sh p11.SessionHandle, m []*p11.Mechanism, o p11.ObjectHandle) error
	Sign(sh p11.SessionHandle, message []byte) ([]byte, error)
	GenerateKeyPair(sh p11.SessionHandle, m []*p11.Mechanism, public, private []*p11.Attribute) (p11.ObjectHandle, p11.ObjectHandle, error)
}

var _ cryptoki = (*p11.Ctx)(nil)
