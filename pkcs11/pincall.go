package pkcs11

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

typedef unsigned long pk_ulong;
struct pk_version { unsigned char major, minor; };
// The PKCS#11 v2.x function list: a version, then the 68 functions in the
// standard's order (C_InitToken, C_InitPIN, C_SetPIN and C_Login are 9, 10,
// 11 and 18; C_WaitForSlotEvent is the last). Version 3.0 modules hand out
// the same list from C_GetFunctionList.
struct pk_flist { struct pk_version version; void *fn[68]; };
typedef pk_ulong (*pk_gfl_fn)(struct pk_flist **);
typedef pk_ulong (*pk_init_token_fn)(pk_ulong, const unsigned char *, pk_ulong, const unsigned char *);
typedef pk_ulong (*pk_init_pin_fn)(pk_ulong, const unsigned char *, pk_ulong);
typedef pk_ulong (*pk_set_pin_fn)(pk_ulong, const unsigned char *, pk_ulong, const unsigned char *, pk_ulong);
typedef pk_ulong (*pk_login_fn)(pk_ulong, pk_ulong, const unsigned char *, pk_ulong);

static void *pk_open(const char *path, void **handle) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return NULL;
	pk_gfl_fn gfl = (pk_gfl_fn)dlsym(h, "C_GetFunctionList");
	struct pk_flist *fl = NULL;
	if (gfl == NULL || gfl(&fl) != 0 || fl == NULL || fl->version.major != 2) {
		dlclose(h);
		return NULL;
	}
	*handle = h;
	return fl;
}
static void *pk_fn(void *fl, int i) { return ((struct pk_flist *)fl)->fn[i]; }
static void pk_close(void *handle) { dlclose(handle); }

static pk_ulong pk_init_token(void *fl, pk_ulong slot, const unsigned char *pin, pk_ulong n, const unsigned char *label) {
	return ((pk_init_token_fn)((struct pk_flist *)fl)->fn[9])(slot, pin, n, label);
}
static pk_ulong pk_init_pin(void *fl, pk_ulong sh, const unsigned char *pin, pk_ulong n) {
	return ((pk_init_pin_fn)((struct pk_flist *)fl)->fn[10])(sh, pin, n);
}
static pk_ulong pk_set_pin(void *fl, pk_ulong sh, const unsigned char *old, pk_ulong on, const unsigned char *new, pk_ulong nn) {
	return ((pk_set_pin_fn)((struct pk_flist *)fl)->fn[11])(sh, old, on, new, nn);
}
static pk_ulong pk_login(void *fl, pk_ulong sh, pk_ulong user, const unsigned char *pin, pk_ulong n) {
	return ((pk_login_fn)((struct pk_flist *)fl)->fn[18])(sh, user, pin, n);
}
*/
import "C"

import (
	"unsafe"

	p11 "github.com/miekg/pkcs11"
)

// funcList is a second dlopen reference to a loaded module and its
// function list, for the calls this package makes itself rather than
// through miekg/pkcs11.
type funcList struct {
	handle unsafe.Pointer
	fl     unsafe.Pointer
}

// openFuncList returns the function list of the module at path, or nil.
func openFuncList(path string) *funcList {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var handle unsafe.Pointer
	fl := C.pk_open(cpath, &handle)
	if fl == nil {
		return nil
	}
	return &funcList{handle: handle, fl: fl}
}

// fn is function i of the list, nil if the module leaves it out.
func (f *funcList) fn(i int) unsafe.Pointer { return C.pk_fn(f.fl, C.int(i)) }

// close drops the reference; the list must not be used afterwards.
func (f *funcList) close() { C.pk_close(f.handle) }

// pinCtx is the *p11.Ctx of a real module with its four PIN-taking calls
// made directly: miekg/pkcs11 copies each PIN into a C string that it frees
// without wiping, which would leave the PIN in the C heap. Here the module
// reads the caller's bytes, which PIN.Zero wipes after the call.
type pinCtx struct {
	*p11.Ctx
	funcs *funcList
	fl    unsafe.Pointer // funcs.fl
}

var _ cryptoki = (*pinCtx)(nil)

// withPINCalls wraps ctx, the module loaded from path, or returns ctx
// unchanged when the module's function list cannot be reached.
func withPINCalls(ctx *p11.Ctx, path string) cryptoki {
	f := openFuncList(path)
	if f == nil {
		return ctx
	}
	for _, i := range []int{9, 10, 11, 18} {
		if f.fn(i) == nil {
			f.close()
			return ctx
		}
	}
	return &pinCtx{Ctx: ctx, funcs: f, fl: f.fl}
}

// Destroy unloads the module (and drops this type's reference to it).
func (c *pinCtx) Destroy() {
	c.Ctx.Destroy()
	c.funcs.close()
}

// pinArg passes a PIN string's own bytes (no copy): NULL for an empty PIN,
// as for a protected authentication path.
func pinArg(pin string) (*C.uchar, C.pk_ulong) {
	if pin == "" {
		return nil, 0
	}
	return (*C.uchar)(unsafe.Pointer(unsafe.StringData(pin))), C.pk_ulong(len(pin))
}

func rvError(rv C.pk_ulong) error {
	if rv == 0 {
		return nil
	}
	return p11.Error(rv)
}

func (c *pinCtx) InitToken(slotID uint, pin string, label string) error {
	var l [32]byte
	for i := range l {
		l[i] = ' '
	}
	copy(l[:], label)
	p, n := pinArg(pin)
	return rvError(C.pk_init_token(c.fl, C.pk_ulong(slotID), p, n, (*C.uchar)(unsafe.Pointer(&l[0]))))
}

func (c *pinCtx) InitPIN(sh p11.SessionHandle, pin string) error {
	p, n := pinArg(pin)
	return rvError(C.pk_init_pin(c.fl, C.pk_ulong(sh), p, n))
}

func (c *pinCtx) SetPIN(sh p11.SessionHandle, oldpin string, newpin string) error {
	o, on := pinArg(oldpin)
	p, n := pinArg(newpin)
	return rvError(C.pk_set_pin(c.fl, C.pk_ulong(sh), o, on, p, n))
}

func (c *pinCtx) Login(sh p11.SessionHandle, userType uint, pin string) error {
	p, n := pinArg(pin)
	return rvError(C.pk_login(c.fl, C.pk_ulong(sh), C.pk_ulong(userType), p, n))
}
