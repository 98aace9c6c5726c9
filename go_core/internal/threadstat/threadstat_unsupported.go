//go:build !linux || !(amd64 || arm64)

package threadstat

// Thread is a placeholder where thread counters are not available.
type Thread struct{}

func Open(int) *Thread { return &Thread{} }
func (*Thread) Read() (Counters, error) {
	return Counters{Source: "none", Migrations: -1, MinorFaults: -1, MajorFaults: -1, CacheMisses: -1,
		VoluntarySwitches: -1, InvoluntarySwitch: -1}, nil
}
func (*Thread) Close()     {}
func TLBShootdowns() int64 { return -1 }

// Self is not available here.
func Self() (Usage, bool) { return Usage{}, false }
