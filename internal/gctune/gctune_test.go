package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name           string
		live, headroom int64
		want           int
	}{
		{"nothing live yet", 0, 16 * mib, 100},
		{"live below the headroom keeps Go's default", 8 * mib, 16 * mib, 100},
		{"live equal to the headroom", 16 * mib, 16 * mib, 100},
		{"twice the headroom", 32 * mib, 16 * mib, 50},
		{"a 200 MiB cache would get 8%: the floor", 200 * mib, 16 * mib, MinPercent},
		{"a large heap stops at the floor", 4096 * mib, 16 * mib, MinPercent},
		{"just above the floor", 150 * mib, 16 * mib, 10},
		{"one third", 48 * mib, 16 * mib, 33},
	}
	for _, tt := range tests {
		if got := Percent(tt.live, tt.headroom); got != tt.want {
			t.Errorf("%s: Percent(%d, %d) = %d, want %d", tt.name, tt.live, tt.headroom, got, tt.want)
		}
	}
}

func TestEnabled(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	if !Enabled(1) || Enabled(0) || Enabled(-1) {
		t.Error("Enabled: want true for a positive headroom only")
	}
	t.Setenv("GOGC", "200")
	if Enabled(1) {
		t.Error("Enabled with GOGC set: the operator's choice must win")
	}
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "1GiB")
	if Enabled(1) {
		t.Error("Enabled with GOMEMLIMIT set: the operator's choice must win")
	}
}

// TestStartLowersThePercentForALargeHeap keeps 64 MiB live (with pointers, so the
// collector has work) and checks that the GC percent comes down to the headroom's
// share, that the heap goal ends near live + headroom, and that stop restores it.
func TestStartLowersThePercentForALargeHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	const headroom = 8 << 20
	live := make([]*[4096]byte, 64<<20/4096)
	for i := range live {
		live[i] = new([4096]byte)
	}
	runtime.GC()
	stop := Start(headroom)
	samples := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		metrics.Read(samples)
		percent, goal, heap := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64()
		if percent <= 15 && goal <= heap+headroom*2 {
			t.Logf("live %d MiB: GC percent %d, heap goal %d MiB", heap>>20, percent, goal>>20)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s: GC percent %d, heap goal %d MiB for %d MiB live; want <= 15 and about live + %d MiB", percent, goal>>20, heap>>20, headroom>>20)
		}
		time.Sleep(50 * time.Millisecond)
	}
	runtime.KeepAlive(live)
	stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after stop the GC percent is %d, want the 100 in effect before", p)
	}
}
