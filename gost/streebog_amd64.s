//go:build !purego

#include "textflag.h"

// Streebog's compression function g_N for amd64 (see gBlock in
// streebog_generic.go for the algorithm). Each L∘P∘S step is 64 table
// lookups; this file exists because the compiler spends about five
// instructions and some spills per lookup, while here a lookup is a
// byte extract and one XOR with a memory operand: an input word sits in
// AX, and AL/AH yield two table indexes per 16-bit shift.
//
// Registers: DX = &lps, CX = pointer to the second operand when it is not
// on the stack, AX = current input word, SI/BX = byte indexes, R8–R14 and
// DI = the eight output words.
//
// Frame: K (round key) at 0(SP), S (state of E) at 64(SP).

// ROW folds input word j (x ⊕ y) into the eight outputs through table
// lps[j] (byte offset t); OP is MOVQ for the first word, XORQ after.
#define ROW(x, y, t, OP) \
	MOVQ x, AX; XORQ y, AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R8; OP t(DX)(BX*8), R9; SHRQ $16, AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R10; OP t(DX)(BX*8), R11; SHRQ $16, AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R12; OP t(DX)(BX*8), R13; SHRQ $16, AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R14; OP t(DX)(BX*8), DI

#define STORE(o) \
	MOVQ R8, (o+0)(SP); MOVQ R9, (o+8)(SP); MOVQ R10, (o+16)(SP); MOVQ R11, (o+24)(SP); \
	MOVQ R12, (o+32)(SP); MOVQ R13, (o+40)(SP); MOVQ R14, (o+48)(SP); MOVQ DI, (o+56)(SP)

// LPS_CX sets the stack block at o to LPS(stack block at x ⊕ block at CX).
#define LPS_CX(x, o) \
	ROW((x+0)(SP), 0(CX), 0, MOVQ); \
	ROW((x+8)(SP), 8(CX), 2048, XORQ); \
	ROW((x+16)(SP), 16(CX), 4096, XORQ); \
	ROW((x+24)(SP), 24(CX), 6144, XORQ); \
	ROW((x+32)(SP), 32(CX), 8192, XORQ); \
	ROW((x+40)(SP), 40(CX), 10240, XORQ); \
	ROW((x+48)(SP), 48(CX), 12288, XORQ); \
	ROW((x+56)(SP), 56(CX), 14336, XORQ); \
	STORE(o)

// ROUND is one round of E: K = LPS(K ⊕ C[i]) (previous key), then
// S = LPS(S ⊕ K).
#define ROUND(c) \
	LEAQ ·streebogC+(c*64)(SB), CX; \
	LPS_CX(0, 0); \
	LEAQ 0(SP), CX; \
	LPS_CX(64, 64)

// func gBlockAMD64(h, n, m *[8]uint64)
TEXT ·gBlockAMD64(SB), NOSPLIT, $128-24
	LEAQ ·lps(SB), DX

	// K = LPS(h ⊕ N): copy N into K's slot, then fold h in.
	MOVQ n+8(FP), CX
	MOVQ 0(CX), AX; MOVQ AX, 0(SP)
	MOVQ 8(CX), AX; MOVQ AX, 8(SP)
	MOVQ 16(CX), AX; MOVQ AX, 16(SP)
	MOVQ 24(CX), AX; MOVQ AX, 24(SP)
	MOVQ 32(CX), AX; MOVQ AX, 32(SP)
	MOVQ 40(CX), AX; MOVQ AX, 40(SP)
	MOVQ 48(CX), AX; MOVQ AX, 48(SP)
	MOVQ 56(CX), AX; MOVQ AX, 56(SP)
	MOVQ h+0(FP), CX
	LPS_CX(0, 0)

	// First round of E: S = LPS(K ⊕ m).
	MOVQ m+16(FP), CX
	LPS_CX(0, 64)

	ROUND(0)
	ROUND(1)
	ROUND(2)
	ROUND(3)
	ROUND(4)
	ROUND(5)
	ROUND(6)
	ROUND(7)
	ROUND(8)
	ROUND(9)
	ROUND(10)

	// K13 = LPS(K12 ⊕ C12).
	LEAQ ·streebogC+(11*64)(SB), CX
	LPS_CX(0, 0)

	// h ⊕= S ⊕ K13 ⊕ m.
	MOVQ h+0(FP), CX
	MOVQ m+16(FP), SI
#define FINAL(o) \
	MOVQ (64+o)(SP), AX; XORQ o(SP), AX; XORQ o(SI), AX; XORQ AX, o(CX)
	FINAL(0)
	FINAL(8)
	FINAL(16)
	FINAL(24)
	FINAL(32)
	FINAL(40)
	FINAL(48)
	FINAL(56)
	RET
