//go:build ignore

// skynet: Go's peer of skynet.c, with the SAME structure (not the usual channel
// version, since libmrt has no channels yet): each inner node makes a
// sync.WaitGroup and a 10-slot []int64, spawns 10 children given their slot and the
// wait group, waits, sums the slots into its slot in its parent and calls Done on
// its parent's wait group; a leaf writes its number.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
)

// -w: rounds of LCG work per leaf; with it, skynet.c's scaling mode (see there).
var flagWork = flag.Int("w", 0, "LCG rounds per leaf: scaling mode (1 P, then 2 Ps)")

var sink uint64

func skynet(num, size int64, out *int64, parent *sync.WaitGroup) {
	if size == 1 {
		if w := *flagWork; w > 0 {
			x := uint64(num)
			for i := 0; i < w; i++ {
				x = x*6364136223846793005 + 1442695040888963407
			}
			sink = x
		}
		*out = num
		parent.Done()
		return
	}
	results := make([]int64, 10)
	var wg sync.WaitGroup
	sub := size / 10
	wg.Add(10)
	for i := int64(0); i < 10; i++ {
		go skynet(num+i*sub, sub, &results[i], &wg)
	}
	wg.Wait()
	var sum int64
	for _, v := range results {
		sum += v
	}
	*out = sum
	parent.Done()
}

// runTree runs the whole tree once, checked: ms.
func runTree(leaves int64) float64 {
	var result int64 = -1
	var wg sync.WaitGroup
	t0 := nowNs()
	wg.Add(1)
	go skynet(0, leaves, &result, &wg)
	wg.Wait()
	t1 := nowNs()
	if want := leaves * (leaves - 1) / 2; result != want {
		fmt.Fprintf(os.Stderr, "skynet: sum %d, want %d\n", result, want)
		os.Exit(1)
	}
	return float64(t1-t0) / 1e6
}

// bestAt: scaling mode, the best of `rounds` runs after a warm-up at p Ps.
func bestAt(p int, leaves int64, rounds int) float64 {
	runtime.GOMAXPROCS(p)
	runTree(leaves)
	best := 0.0
	for r := 0; r < rounds; r++ {
		if ms := runTree(leaves); r == 0 || ms < best {
			best = ms
		}
	}
	return best
}

func main() {
	setup()
	p := runtime.GOMAXPROCS(0)
	leaves := int64(orDefault(flagN, 1000000))
	rounds := orDefault(flagRounds, 3)
	if *flagWork > 0 {
		t1, t2 := bestAt(1, leaves, rounds), bestAt(2, leaves, rounds)
		metric("scaling_1p_ms", t1, "ms")
		metric("scaling_2p_ms", t2, "ms")
		metric("scaling_speedup", t1/t2, "x")
		return
	}
	for r := 0; r < rounds; r++ {
		kind := "warm"
		if r == 0 {
			kind = "cold"
		}
		metric(fmt.Sprintf("skynet_%dp_%s", p, kind), runTree(leaves), "ms")
	}
	metric(fmt.Sprintf("skynet_%dp_maxrss", p), float64(maxrssBytes())/(1<<20), "MiB")
	fmt.Printf("Go skynet %dP: sum ok\n", p)
}
