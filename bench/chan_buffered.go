//go:build ignore

// chan_buffered: Go's peer of chan_buffered.c (same structure): producer -> consumer
// through make(chan int64, 1024), N values then close; figure elapsed / N.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

var done sync.WaitGroup

func main() {
	setup()
	procs := runtime.GOMAXPROCS(0)
	n := orDefault(flagN, 2000000)
	rounds := orDefault(flagRounds, 3)
	for r := -1; r < rounds; r++ {
		m := n
		if r < 0 {
			m = n/10 + 1
		}
		c := make(chan int64, 1024)
		var got, sum int64
		t0 := nowNs()
		done.Add(1)
		go func() {
			for v := range c {
				sum += v
				got++
			}
			done.Done()
		}()
		for i := 0; i < m; i++ {
			c <- int64(i)
		}
		close(c)
		done.Wait()
		t1 := nowNs()
		if got != int64(m) || sum != int64(m)*int64(m-1)/2 {
			fmt.Fprintf(os.Stderr, "chan_buffered: got %d elements, sum %d\n", got, sum)
			os.Exit(1)
		}
		if r >= 0 {
			metric(fmt.Sprintf("chan_buffered_%dp", procs), float64(t1-t0)/float64(m), "ns")
		}
	}
}
