#include "textflag.h"

// func beginSeq(p *uint64, v uint64)
TEXT ·beginSeq(SB), NOSPLIT, $0-16
	MOVD	p+0(FP), R0
	MOVD	v+8(FP), R1
	MOVD	R1, (R0)
	DMB	$0xa // ISHST: this store before every later store
	RET
