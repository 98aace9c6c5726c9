//go:build linux && amd64

package osthread

const sysGetcpu = 309 // SYS_GETCPU
