//go:build linux && arm64

package osthread

const sysGetcpu = 168 // SYS_GETCPU
