//go:build !amd64 || purego

package gost

func gBlock(h, n, m *[8]uint64) { gGeneric(h, n, m) }
