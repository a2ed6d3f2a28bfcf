package pkcs11

import (
	p11 "github.com/miekg/pkcs11"
)

// Private key handles are cached per token, so that a signature costs
// C_SignInit and C_Sign rather than a C_FindObjects search each time
// (which on the softtoken costs about half as much as C_Sign). A handle belongs
// to the application for as long as the object exists and the token stays
// in, so the cache is dropped whenever that may have changed: the pool
// dropping its sessions (the token was pulled, or is being
// re-initialized), a login or logout (some modules renumber private
// objects), and objects destroyed or created through this Token. A module
// answering CKR_KEY_HANDLE_INVALID or CKR_OBJECT_HANDLE_INVALID for a
// cached handle (objects changed by another process) drops it and looks
// the key up once more, and a signature that fails verification with a
// cached handle drops the cache too.
type handleCache struct {
	epoch uint64 // bumped by forget; lookups begun in an older epoch are not stored
	byRef map[string]p11.ObjectHandle
}

// handleRef is the cache key of a key's private object: its CKA_ID, or
// its label for objects without one (as privateHandle searches).
func (k *Key) handleRef() string {
	if len(k.id) > 0 {
		return "id:" + string(k.id)
	}
	return "label:" + k.label
}

// cachedHandle returns the cached handle for ref, if any, and the epoch
// to pass to storeHandle after a lookup.
func (t *Token) cachedHandle(ref string) (h p11.ObjectHandle, ok bool, epoch uint64) {
	t.handleMu.Lock()
	defer t.handleMu.Unlock()
	h, ok = t.handles.byRef[ref]
	return h, ok, t.handles.epoch
}

// storeHandle caches h for ref unless the cache was dropped since the
// lookup began (epoch), when h may already be stale.
func (t *Token) storeHandle(ref string, h p11.ObjectHandle, epoch uint64) {
	t.handleMu.Lock()
	defer t.handleMu.Unlock()
	if epoch != t.handles.epoch {
		return
	}
	if t.handles.byRef == nil {
		t.handles.byRef = map[string]p11.ObjectHandle{}
	}
	t.handles.byRef[ref] = h
}

// forgetHandles drops every cached handle.
func (t *Token) forgetHandles() {
	t.handleMu.Lock()
	defer t.handleMu.Unlock()
	t.handles.epoch++
	clear(t.handles.byRef)
}

// staleHandle reports whether err says an object handle is not (or no
// longer) valid.
func staleHandle(err error) bool {
	rv, ok := rvCode(err)
	return ok && (rv == p11.CKR_KEY_HANDLE_INVALID || rv == p11.CKR_OBJECT_HANDLE_INVALID)
}
