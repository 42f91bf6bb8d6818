//go:build ignore

// sleep_fanout: Go's peer of sleep_fanout.c (same structure): N goroutines each
// time.Sleep(1ms) then wg.Done(); figure: wall time from the first `go` until
// wg.Wait returns, ms. One warm-up round, then -r rounds.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

var wg sync.WaitGroup

func sleeper() {
	time.Sleep(time.Millisecond)
	wg.Done()
}

func main() {
	setup()
	procs := runtime.GOMAXPROCS(0)
	n := orDefault(flagN, 10000)
	rounds := orDefault(flagRounds, 5)
	for r := -1; r < rounds; r++ {
		t0 := nowNs()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go sleeper()
		}
		wg.Wait()
		t1 := nowNs()
		if r >= 0 {
			metric(fmt.Sprintf("sleep_fanout_%dp", procs), float64(t1-t0)/1e6, "ms")
		}
	}
}
