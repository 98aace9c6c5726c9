//go:build linux && amd64

package workload

const sysClockNanosleep = 230 // SYS_CLOCK_NANOSLEEP, x86-64
