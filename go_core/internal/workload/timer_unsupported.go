//go:build !linux || !(amd64 || arm64)

package workload

func sleepUntil(int64) {}

const haveClockNanosleep = false
