//go:build ignore

// gosched_switch: Go's peer of gosched_switch.c (same structure): with GOMAXPROCS=1
// the main goroutine starts a second one and both call runtime.Gosched N times; the
// figure is elapsed / (2N). One warm-up round, then -r rounds.
package main

import (
	"runtime"
	"sync"
)

var done sync.WaitGroup

func yielder(n int) {
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	done.Done()
}

func main() {
	setup()
	runtime.GOMAXPROCS(1)
	n := orDefault(flagN, 1000000)
	rounds := orDefault(flagRounds, 5)
	for r := -1; r < rounds; r++ {
		t0 := nowNs()
		done.Add(1)
		go yielder(n)
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		done.Wait()
		t1 := nowNs()
		if r >= 0 {
			metric("switch_1p", float64(t1-t0)/(2*float64(n)), "ns")
		}
	}
}
