//go:build !linux || !(amd64 || arm64)

package osthread

// The stubs keep golat building elsewhere; every setter reports ErrUnsupported.

func IsMainThread() bool                     { return false }
func Gettid() int                            { return 0 }
func Affinity(int) ([]int, error)            { return nil, ErrUnsupported }
func SetAffinity(int, []int) (func(), error) { return nop, ErrUnsupported }
func GetPolicy(int) (Policy, error)          { return Policy{}, ErrUnsupported }
func SetPolicy(int, Policy) (func(), error)  { return nop, ErrUnsupported }
func GetCPU() (cpu, node int)                { return -1, -1 }
func Mlockall() (func(), error)              { return nop, ErrUnsupported }
func LockedBytes() int64                     { return -1 }
func PinProcess([]int) (func(), error)       { return nop, ErrUnsupported }
