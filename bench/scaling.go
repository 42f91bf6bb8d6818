//go:build ignore

// scaling: Go's peer of scaling.c: the same skynet tree with the same LCG work at the
// leaves, best of -r rounds after a warm-up at GOMAXPROCS 1 and then 2, in one
// process.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

const work = 4000

var sink uint64

func tree(num, size int64, out *int64, parent *sync.WaitGroup) {
	if size == 1 {
		x := uint64(num)
		for i := 0; i < work; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		sink = x
		*out = num
		parent.Done()
		return
	}
	results := make([]int64, 10)
	var wg sync.WaitGroup
	sub := size / 10
	wg.Add(10)
	for i := int64(0); i < 10; i++ {
		go tree(num+i*sub, sub, &results[i], &wg)
	}
	wg.Wait()
	var sum int64
	for _, v := range results {
		sum += v
	}
	*out = sum
	parent.Done()
}

func runOnce(leaves int64) float64 {
	var result int64 = -1
	var wg sync.WaitGroup
	t0 := nowNs()
	wg.Add(1)
	go tree(0, leaves, &result, &wg)
	wg.Wait()
	t1 := nowNs()
	if want := leaves * (leaves - 1) / 2; result != want {
		fmt.Fprintf(os.Stderr, "scaling: sum %d, want %d\n", result, want)
		os.Exit(1)
	}
	return float64(t1-t0) / 1e6
}

func bestAt(p int, leaves int64, rounds int) float64 {
	runtime.GOMAXPROCS(p)
	runOnce(leaves)
	best := 0.0
	for r := 0; r < rounds; r++ {
		if ms := runOnce(leaves); r == 0 || ms < best {
			best = ms
		}
	}
	return best
}

func main() {
	setup()
	leaves := int64(orDefault(flagN, 100000))
	rounds := orDefault(flagRounds, 3)
	t1 := bestAt(1, leaves, rounds)
	t2 := bestAt(2, leaves, rounds)
	metric("scaling_1p_ms", t1, "ms")
	metric("scaling_2p_ms", t2, "ms")
	metric("scaling_speedup", t1/t2, "x")
}
