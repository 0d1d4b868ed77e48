#include "textflag.h"

// func readFence()
TEXT ·readFence(SB), NOSPLIT, $0-0
	DMB	$0x9 // ISHLD: earlier loads before every later load and store
	RET
