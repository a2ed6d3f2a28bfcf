//go:build !purego

package gost

import "golang.org/x/sys/cpu"

// hasMulx reports the instructions montMulADX needs (BMI2 MULX, ADX).
var hasMulx = cpu.X86.HasBMI2 && cpu.X86.HasADX

// The assembly in field_amd64.s. Operands are n-limb values as in the
// generic versions; z may alias x or y.
//
//go:noescape
func montMulADX4(z, x, y, m *fe, m0inv uint64)

//go:noescape
func montMulADX8(z, x, y, m *fe, m0inv uint64)

//go:noescape
func modAdd4(z, x, y, m *fe)

//go:noescape
func modAdd8(z, x, y, m *fe)

//go:noescape
func modSub4(z, x, y, m *fe)

//go:noescape
func modSub8(z, x, y, m *fe)

// mul sets z = x·y·R⁻¹ mod m (see mulGeneric for the bounds).
func (f *field) mul(z, x, y *fe) {
	if hasMulx {
		switch f.n {
		case 4:
			montMulADX4(z, x, y, &f.m, f.m0inv)
			return
		case 8:
			montMulADX8(z, x, y, &f.m, f.m0inv)
			return
		}
	}
	f.mulGeneric(z, x, y)
}

// add sets z = x + y mod m.
func (f *field) add(z, x, y *fe) {
	switch f.n {
	case 4:
		modAdd4(z, x, y, &f.m)
	case 8:
		modAdd8(z, x, y, &f.m)
	default:
		f.addGeneric(z, x, y)
	}
}

// sub sets z = x - y mod m.
func (f *field) sub(z, x, y *fe) {
	switch f.n {
	case 4:
		modSub4(z, x, y, &f.m)
	case 8:
		modSub8(z, x, y, &f.m)
	default:
		f.subGeneric(z, x, y)
	}
}
