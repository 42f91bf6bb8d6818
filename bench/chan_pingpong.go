//go:build ignore

// chan_pingpong: Go's peer of chan_pingpong.c (same structure): the main goroutine
// sends on a, a second one receives and replies on b; figure elapsed / N per round
// trip. One warm-up round, then -r rounds.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

var done sync.WaitGroup

func ponger(a, b chan int64, n int) {
	for i := 0; i < n; i++ {
		v := <-a
		b <- v + 1
	}
	done.Done()
}

func main() {
	setup()
	procs := runtime.GOMAXPROCS(0)
	n := orDefault(flagN, 200000)
	rounds := orDefault(flagRounds, 3)
	a, b := make(chan int64), make(chan int64)
	for r := -1; r < rounds; r++ {
		m := n
		if r < 0 {
			m = n/10 + 1
		}
		t0 := nowNs()
		done.Add(1)
		go ponger(a, b, m)
		for i := 0; i < m; i++ {
			a <- int64(i)
			if w := <-b; w != int64(i)+1 {
				fmt.Fprintf(os.Stderr, "chan_pingpong: got %d, want %d\n", w, i+1)
				os.Exit(1)
			}
		}
		done.Wait()
		t1 := nowNs()
		if r >= 0 {
			metric(fmt.Sprintf("chan_pingpong_%dp", procs), float64(t1-t0)/float64(m), "ns")
		}
	}
}
