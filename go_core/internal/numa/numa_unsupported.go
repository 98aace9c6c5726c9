//go:build !linux || !(amd64 || arm64)

package numa

func ThreadPolicy() (Policy, error)          { return Policy{Mode: "default"}, ErrUnsupported }
func SetThreadPolicy(Policy) (func(), error) { return nop, ErrUnsupported }
func Alloc(int) ([]byte, func(), error)      { return nil, nop, ErrUnsupported }
func Bind([]byte, Policy) error              { return ErrUnsupported }
func Locate([]byte) (Placement, error)       { return Placement{}, ErrUnsupported }
