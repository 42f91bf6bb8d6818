//go:build ignore

// preempt: Go's peer of preempt.c (same structure) with GOMAXPROCS=1: the CPU-bound
// work (an LCG, no calls) alone on the P, which Go's sysmon preempts every 10 ms by
// signal as well, and the preemption latency of two goroutines that spin in turn,
// each reading the clock: how long after the other's 10 ms slice ended one starts to
// run, in microseconds, -n samples. (Go has no rt_checkpoint: its check is in every
// function prologue; no async on/off switch per goroutine either.)
package main

import (
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

var sink uint64

const workIters = 200000000
const sliceNs = 10000000

func work() int64 {
	x := uint64(88172645463325252)
	t0 := cpuNs()
	for i := 0; i < workIters; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	d := cpuNs() - t0
	atomic.StoreUint64(&sink, x)
	return d
}

// cpuNs: CPU time of the whole process (as preempt.c measures).
func cpuNs() int64 {
	var ts syscall.Timespec
	// CLOCK_PROCESS_CPUTIME_ID = 2
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 2, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func main() {
	setup()
	runtime.GOMAXPROCS(1)
	n := orDefault(flagN, 100)
	rounds := orDefault(flagRounds, 5)

	var wg sync.WaitGroup
	best := int64(1 << 62)
	for r := 0; r < rounds; r++ {
		var d int64
		wg.Add(1)
		go func() { d = work(); wg.Done() }()
		wg.Wait()
		if d < best {
			best = d
		}
	}
	metric("work_ms", float64(best)/1e6, "ms")

	var owner atomic.Int32
	owner.Store(-1)
	var sliceStart [2]atomic.Int64
	var stop atomic.Bool
	lat := make([]float64, 0, n)
	var mu sync.Mutex
	taker := func(me int32) {
		for !stop.Load() {
			t := nowNs()
			if owner.Load() != me {
				mu.Lock()
				if owner.Load() >= 0 && len(lat) < n {
					lat = append(lat, float64(t-sliceStart[1-me].Load()-sliceNs)/1000)
				}
				if len(lat) >= n {
					stop.Store(true)
				}
				mu.Unlock()
				sliceStart[me].Store(t)
				owner.Store(me)
			}
		}
		wg.Done()
	}
	wg.Add(2)
	go taker(0)
	go taker(1)
	wg.Wait()
	sort.Float64s(lat)
	k := len(lat)
	metric("lat_p50_us", lat[k/2], "us")
	metric("lat_p90_us", lat[k*9/10], "us")
	metric("lat_p99_us", lat[k*99/100], "us")
	metric("lat_max_us", lat[k-1], "us")
}
