//go:build !linux || !(amd64 || arm64)

package workload

func sleepUntil(int64, func() bool) bool { return false }

const haveClockNanosleep = false
