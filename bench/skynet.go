//go:build ignore

// skynet: Go's peer of skynet.c, with the SAME structure (not the usual channel
// version, since libmrt has no channels yet): each inner node makes a
// sync.WaitGroup and a 10-slot []int64, spawns 10 children given their slot and the
// wait group, waits, sums the slots into its slot in its parent and calls Done on
// its parent's wait group; a leaf writes its number.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

func skynet(num, size int64, out *int64, parent *sync.WaitGroup) {
	if size == 1 {
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

func main() {
	setup()
	p := runtime.GOMAXPROCS(0)
	leaves := int64(orDefault(flagN, 1000000))
	rounds := orDefault(flagRounds, 3)
	for r := 0; r < rounds; r++ {
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
		kind := "warm"
		if r == 0 {
			kind = "cold"
		}
		metric(fmt.Sprintf("skynet_%dp_%s", p, kind), float64(t1-t0)/1e6, "ms")
	}
	metric(fmt.Sprintf("skynet_%dp_maxrss", p), float64(maxrssBytes())/(1<<20), "MiB")
	fmt.Printf("Go skynet %dP: sum ok\n", p)
}
