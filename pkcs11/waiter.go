package pkcs11

/*
typedef unsigned long ck_ulong;
typedef ck_ulong (*wait_for_slot_event_fn)(ck_ulong, ck_ulong *, void *);

static ck_ulong wait_call(void *fn, ck_ulong *slot) {
	return ((wait_for_slot_event_fn)fn)(0, slot, NULL);
}
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"

	p11 "github.com/miekg/pkcs11"
)

// slotWaiter turns a module's blocking C_WaitForSlotEvent into wake-ups
// for Watch. It calls the function itself because miekg/pkcs11's
// WaitForSlotEvent drops the return value, which would make a module
// without the call (SoftHSM2 returns CKR_FUNCTION_NOT_SUPPORTED) look like
// an endless stream of events on slot 0.
type slotWaiter interface {
	// subscribe returns a channel that receives a value after each event,
	// and a function to unsubscribe. A nil channel means the module cannot
	// wait, and Watch polls.
	subscribe() (<-chan struct{}, func())
	// stop is called after C_Finalize, which makes a blocked wait return.
	// It reports whether no thread is left inside the module.
	stop() bool
}

type dlWaiter struct {
	funcs *funcList
	fn    unsafe.Pointer

	mu          sync.Mutex
	subs        map[chan struct{}]bool
	running     bool
	unsupported bool
	exited      chan struct{}
}

// newSlotWaiter opens a second reference to the already loaded module to
// reach its C_WaitForSlotEvent, or returns nil if it cannot.
func newSlotWaiter(path string) slotWaiter {
	f := openFuncList(path)
	if f == nil {
		return nil
	}
	fn := f.fn(67) // C_WaitForSlotEvent
	if fn == nil {
		f.close()
		return nil
	}
	return &dlWaiter{funcs: f, fn: fn, subs: map[chan struct{}]bool{}}
}

func (w *dlWaiter) subscribe() (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unsupported {
		return nil, func() {}
	}
	ch := make(chan struct{}, 1)
	w.subs[ch] = true
	if !w.running {
		w.running = true
		w.exited = make(chan struct{})
		go w.run()
	}
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, ch)
		w.mu.Unlock()
	}
}

// run waits for events until the module says it cannot, or is finalized.
// It keeps running without subscribers: a thread blocked in the module
// cannot be called back, and the next Watch reuses it.
func (w *dlWaiter) run() {
	defer close(w.exited)
	for {
		var slot C.ck_ulong
		rv := uint(C.wait_call(w.fn, &slot))
		w.mu.Lock()
		if rv != p11.CKR_OK {
			w.unsupported = rv == p11.CKR_FUNCTION_NOT_SUPPORTED
			w.running = false
			for ch := range w.subs {
				close(ch)
			}
			w.subs = map[chan struct{}]bool{}
			w.mu.Unlock()
			return
		}
		for ch := range w.subs {
			select {
			case ch <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
		w.mu.Unlock()
	}
}

func (w *dlWaiter) stop() bool {
	w.mu.Lock()
	running, exited := w.running, w.exited
	w.mu.Unlock()
	if running {
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			return false
		}
	}
	w.funcs.close()
	return true
}
