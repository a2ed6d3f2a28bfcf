//go:build !purego

package gost

import "golang.org/x/sys/cpu"

// hasMulx reports the instructions fieldMulAsm needs (BMI2 MULX, ADX); the
// assembly reads it.
var hasMulx = cpu.X86.HasBMI2 && cpu.X86.HasADX

// The assembly in field_amd64.s, one call per operation so that the
// methods below inline into the point formulas. It falls back to the
// portable code by jumping to the *Fallback functions.
//
//go:noescape
func fieldMulAsm(z, x, y *fe, f *field)

//go:noescape
func fieldAddAsm(z, x, y *fe, f *field)

//go:noescape
func fieldSubAsm(z, x, y *fe, f *field)

//go:noescape
func fieldSqrAsm(z, x *fe, f *field)

// The Fallback functions are reached only from field_amd64.s, on CPUs
// without MULX/ADX and for limb counts the assembly does not cover, so
// static checkers that read only Go see them as unused.
//
//lint:ignore U1000 called from field_amd64.s
func sqrFallback(z, x *fe, f *field) { f.mul(z, x, x) }

//lint:ignore U1000 called from field_amd64.s
func mulFallback(z, x, y *fe, f *field) { f.mulGeneric(z, x, y) }

//lint:ignore U1000 called from field_amd64.s
func addFallback(z, x, y *fe, f *field) { f.addGeneric(z, x, y) }

//lint:ignore U1000 called from field_amd64.s
func subFallback(z, x, y *fe, f *field) { f.subGeneric(z, x, y) }

// mul sets z = x·y·R⁻¹ mod m (see mulGeneric for the bounds).
func (f *field) mul(z, x, y *fe) { fieldMulAsm(z, x, y, f) }

// sqr sets z = x²·R⁻¹ mod m for x < m.
func (f *field) sqr(z, x *fe) { fieldSqrAsm(z, x, f) }

// add sets z = x + y mod m.
func (f *field) add(z, x, y *fe) { fieldAddAsm(z, x, y, f) }

// sub sets z = x - y mod m.
func (f *field) sub(z, x, y *fe) { fieldSubAsm(z, x, y, f) }
