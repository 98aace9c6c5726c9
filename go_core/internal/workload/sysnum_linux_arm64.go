//go:build linux && arm64

package workload

const sysClockNanosleep = 115 // SYS_CLOCK_NANOSLEEP, asm-generic
