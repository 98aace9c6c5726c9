//go:build linux && amd64

package numa

// System call numbers of the x86-64 table (arch/x86/entry/syscalls/syscall_64.tbl).
const (
	sysMbind        = 237
	sysSetMempolicy = 238
	sysGetMempolicy = 239
	sysMovePages    = 279
)
