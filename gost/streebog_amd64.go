//go:build !purego

package gost

// gBlockAMD64 is gBlock in assembly (streebog_amd64.s).
//
//go:noescape
func gBlockAMD64(h, n, m *[8]uint64)

func gBlock(h, n, m *[8]uint64) { gBlockAMD64(h, n, m) }
