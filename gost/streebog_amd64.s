//go:build !purego

#include "textflag.h"

// Streebog's compression function g_N for amd64 (see gGeneric in
// streebog_generic.go for the algorithm). Each L∘P∘S step is 64 table
// lookups, out[i] = ⊕_j lps[j][byte i of word j]. The compiler spends
// about five instructions and a few spills per lookup; here a lookup is a
// byte extract (AL/AH/BL/BH) and one XOR with a memory operand.
//
// Within E the key chain K(i+1) = LPS(K(i) ⊕ C(i)) and the state chain
// S(i) = LPS(S(i-1) ⊕ K(i)) both read only K(i) and S(i-1), so each STEP
// computes one link of both chains interleaved instruction by
// instruction: two independent dependency chains keep the core busy where
// one LPS after another would wait on its own latency. Sixteen live
// output words do not fit the registers, so a STEP makes two passes over
// the inputs, each producing four words of both results.
//
// Registers: DX = &lps; AX, BX = input words of the K and S chain; SI, DI
// = table indexes; R8–R11 = K outputs, R12–R14 and CX = S outputs.
//
// Frame: two K buffers (BUF_KA, BUF_KB) and two S buffers (BUF_SA,
// BUF_SB), used in turn, since a STEP still reads its inputs after
// writing the first half of its outputs (not named KA…SB: SB is the
// static-base pseudo-register); CPTR holds the address of the next round
// constant.
#define BUF_KA 0
#define BUF_KB 64
#define BUF_SA 128
#define BUF_SB 192
#define CPTR 256

// Q4 folds the low 32 bits of an input word (in R32, bytes RL/RH) into
// four outputs a0–a3 through table lps[j] at byte offset t.
#define Q4(RL, RH, R32, t, OP, a0, a1, a2, a3) \
	MOVBLZX RL, SI; OP t(DX)(SI*8), a0; MOVBLZX RH, DI; OP t(DX)(DI*8), a1; SHRL $16, R32; \
	MOVBLZX RL, SI; OP t(DX)(SI*8), a2; MOVBLZX RH, DI; OP t(DX)(DI*8), a3

// ROW takes the 32-bit half at byte offset o of input word j (table
// offset t = 2048·j) of both chains. OP is MOVQ for j = 0, XORQ after.
#define ROW(o, t, kin, sin, OP) \
	MOVL (kin+o)(SP), AX; MOVL (sin+o)(SP), BX; \
	Q4(AL, AH, AX, t, OP, R8, R9, R10, R11); \
	Q4(BL, BH, BX, t, OP, R12, R13, R14, CX)

// ROWS computes output words hb/4 … hb/4+3 of both chains.
#define ROWS(hb, kin, sin) \
	ROW(hb+0, 0, kin, sin, MOVQ); \
	ROW(hb+8, 2048, kin, sin, XORQ); \
	ROW(hb+16, 4096, kin, sin, XORQ); \
	ROW(hb+24, 6144, kin, sin, XORQ); \
	ROW(hb+32, 8192, kin, sin, XORQ); \
	ROW(hb+40, 10240, kin, sin, XORQ); \
	ROW(hb+48, 12288, kin, sin, XORQ); \
	ROW(hb+56, 14336, kin, sin, XORQ)

// The buffers hold the next step's inputs already combined: K ⊕ C for
// the key chain and S ⊕ K for the state chain, both formed here from the
// new K and S while they are still in registers.
// C(i+1) is at the address in CPTR(SP), loaded into SI (free between
// the ROWS).
#define STORE1(k, s, o, kout, sout) \
	XORQ k, s; MOVQ s, (sout+o)(SP); XORQ o(SI), k; MOVQ k, (kout+o)(SP)

#define STORE(ob, kout, sout) \
	MOVQ CPTR(SP), SI; \
	STORE1(R8, R12, ob+0, kout, sout); \
	STORE1(R9, R13, ob+8, kout, sout); \
	STORE1(R10, R14, ob+16, kout, sout); \
	STORE1(R11, CX, ob+24, kout, sout)

// STEP i reads K(i) ⊕ C(i) and S(i-1) ⊕ K(i), and leaves K(i+1) ⊕ C(i+1)
// and S(i) ⊕ K(i+1). After step 12 that is K13 (C13 being zero) and
// S12 ⊕ K13, which is what E adds to h.
#define STEP(kin, sin, kout, sout) \
	ROWS(0, kin, sin); STORE(0, kout, sout); \
	ROWS(4, kin, sin); STORE(32, kout, sout); \
	ADDQ $64, CPTR(SP)

// func gBlockAMD64(h, n, m *[8]uint64)
TEXT ·gBlockAMD64(SB), NOSPLIT, $264-24
	LEAQ ·lps(SB), DX

	// K1 = LPS(h ⊕ N) on its own, one input word at a time into eight
	// outputs (R8–R14, DI; indexes in SI, BX); h and N are copied to BUF_KB
	// and BUF_SA first. m goes to BUF_SB as S0.
	MOVQ h+0(FP), AX
	MOVQ n+8(FP), BX
	MOVQ m+16(FP), CX
#define COPY(o) \
	MOVQ o(AX), SI; MOVQ SI, (BUF_KB+o)(SP); MOVQ o(BX), SI; MOVQ SI, (BUF_SA+o)(SP); \
	MOVQ o(CX), SI; MOVQ SI, (BUF_SB+o)(SP)
	COPY(0)
	COPY(8)
	COPY(16)
	COPY(24)
	COPY(32)
	COPY(40)
	COPY(48)
	COPY(56)
#define ROW1(o, t, OP) \
	MOVQ (BUF_KB+o)(SP), AX; XORQ (BUF_SA+o)(SP), AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R8; OP t(DX)(BX*8), R9; SHRQ $16, AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R10; OP t(DX)(BX*8), R11; SHRQ $16, AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R12; OP t(DX)(BX*8), R13; SHRQ $16, AX; \
	MOVBLZX AL, SI; MOVBLZX AH, BX; OP t(DX)(SI*8), R14; OP t(DX)(BX*8), DI
	ROW1(0, 0, MOVQ)
	ROW1(8, 2048, XORQ)
	ROW1(16, 4096, XORQ)
	ROW1(24, 6144, XORQ)
	ROW1(32, 8192, XORQ)
	ROW1(40, 10240, XORQ)
	ROW1(48, 12288, XORQ)
	ROW1(56, 14336, XORQ)
	// Seed the chains: BUF_KA = K1 ⊕ C1, BUF_SB = m ⊕ K1.
#define SEED(k, o) \
	XORQ k, (BUF_SB+o)(SP); XORQ ·streebogC+o(SB), k; MOVQ k, (BUF_KA+o)(SP)
	SEED(R8, 0)
	SEED(R9, 8)
	SEED(R10, 16)
	SEED(R11, 24)
	SEED(R12, 32)
	SEED(R13, 40)
	SEED(R14, 48)
	SEED(DI, 56)

	// Twelve rounds, two per iteration so that the buffers swap back.
	// A loop rather than full unrolling: the unrolled 23 KB of code does
	// not stay in the decoded-instruction cache and ran up to a third
	// slower, depending on where the linker placed it.
	LEAQ ·streebogC+64(SB), SI
	MOVQ SI, CPTR(SP)
rounds:
	STEP(BUF_KA, BUF_SB, BUF_KB, BUF_SA)
	STEP(BUF_KB, BUF_SA, BUF_KA, BUF_SB)
	LEAQ ·streebogC+(13*64)(SB), SI
	CMPQ SI, CPTR(SP)
	JNE rounds

	// h ⊕= S12 ⊕ K13 ⊕ m, with S12 ⊕ K13 in BUF_SB.
	MOVQ h+0(FP), CX
	MOVQ m+16(FP), SI
#define FINAL(o) \
	MOVQ (BUF_SB+o)(SP), AX; XORQ o(SI), AX; XORQ AX, o(CX)
	FINAL(0)
	FINAL(8)
	FINAL(16)
	FINAL(24)
	FINAL(32)
	FINAL(40)
	FINAL(48)
	FINAL(56)
	RET
