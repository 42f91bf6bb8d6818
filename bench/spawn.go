//go:build ignore

// spawn: Go's peer of spawn.c (same structure): a round is wg.Add(N), N x `go leaf()`
// where leaf only calls wg.Done(), wg.Wait(); figure (t1 - t0) / N. The first round
// in the fresh process is "cold", the later ones "warm".
package main

import (
	"fmt"
	"runtime"
	"sync"
)

var wg sync.WaitGroup

func leaf() { wg.Done() }

func main() {
	setup()
	procs := runtime.GOMAXPROCS(0)
	n := orDefault(flagN, 1000000)
	rounds := orDefault(flagRounds, 3)
	for r := 0; r < rounds; r++ {
		f0 := minflt()
		t0 := nowNs()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go leaf()
		}
		wg.Wait()
		t1 := nowNs()
		f1 := minflt()
		kind := "warm"
		if r == 0 {
			kind = "cold"
		}
		metric(fmt.Sprintf("spawn_%dp_%s", procs, kind), float64(t1-t0)/float64(n), "ns")
		if r == 0 {
			fmt.Printf("Go %dP cold round: %d minor faults (%.2f per G), RSS %.1f MiB after it\n",
				procs, f1-f0, float64(f1-f0)/float64(n), float64(rssBytes())/(1<<20))
		}
	}
}
