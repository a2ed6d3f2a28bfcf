//go:build !amd64 || purego

package gost

// mul sets z = x·y·R⁻¹ mod m (see mulGeneric for the bounds).
func (f *field) mul(z, x, y *fe) { f.mulGeneric(z, x, y) }

// sqr sets z = x²·R⁻¹ mod m for x < m.
func (f *field) sqr(z, x *fe) { f.mulGeneric(z, x, x) }

// add sets z = x + y mod m.
func (f *field) add(z, x, y *fe) { f.addGeneric(z, x, y) }

// sub sets z = x - y mod m.
func (f *field) sub(z, x, y *fe) { f.subGeneric(z, x, y) }
