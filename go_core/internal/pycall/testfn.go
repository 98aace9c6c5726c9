package pycall

/*
#include <stdint.h>

// A stand-in for a Python callback, for pycall_test.go (test files cannot use cgo): it
// returns "raised" on every other call and "stop" on the fifth.
static int golat_pycall_test_calls;

static int golat_pycall_test_fn(void) {
	golat_pycall_test_calls++;
	if (golat_pycall_test_calls >= 5) return 2;
	return golat_pycall_test_calls % 2;
}

static uintptr_t golat_pycall_test_fn_address(void) { return (uintptr_t)golat_pycall_test_fn; }

static int golat_pycall_test_count(void) { return golat_pycall_test_calls; }
*/
import "C"

func testFnAddress() uint64 { return uint64(C.golat_pycall_test_fn_address()) }

func testCalls() int { return int(C.golat_pycall_test_count()) }
