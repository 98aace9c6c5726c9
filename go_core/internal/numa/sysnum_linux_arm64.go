//go:build linux && arm64

package numa

// System call numbers of the generic table arm64 uses (include/uapi/asm-generic/unistd.h).
const (
	sysMbind        = 235
	sysGetMempolicy = 236
	sysSetMempolicy = 237
	sysMovePages    = 239
)
