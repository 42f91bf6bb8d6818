//go:build ignore

// parked_1m: Go's peer of parked_1m.c: N goroutines (default 1,000,000) call Done on
// a `started` WaitGroup and wait on one gate WaitGroup; main waits on `started`, then
// sleeps 20 ms (counted in the create time) so that the last ones are parked too, and checks NumGoroutine() == N + 1,
// counts /proc/self/maps, opens the gate and waits for all to exit.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

var (
	started, gate, exited sync.WaitGroup
)

func parker() {
	started.Done()
	gate.Wait()
	exited.Done()
}

func main() {
	setup()
	n := orDefault(flagN, 1000000)
	maps0, rss0 := mapsCount(), rssBytes()
	flt0 := minflt()
	c0 := cpuMs()
	t0 := nowNs()
	started.Add(n)
	gate.Add(1)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go parker()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond)
	if g := runtime.NumGoroutine(); g != n+1 {
		fmt.Fprintf(os.Stderr, "parked_1m: %d goroutines, want %d\n", g, n+1)
		os.Exit(1)
	}
	t1 := nowNs()
	c1 := cpuMs()
	flt1 := minflt()
	maps1, rss1 := mapsCount(), rssBytes()
	metric("parked_1m_create", float64(t1-t0)/1e6, "ms")
	metric("parked_1m_create_cpu", c1-c0, "ms")
	metric("parked_1m_create_faults", float64(flt1-flt0)/float64(n), "/G")
	metric("parked_1m_maps", float64(maps1), "lines")
	metric("parked_1m_mem_per_g", float64(rss1-rss0)/float64(n), "B")
	c2 := cpuMs()
	t2 := nowNs()
	gate.Done()
	exited.Wait()
	t3 := nowNs()
	c3 := cpuMs()
	metric("parked_1m_release", float64(t3-t2)/1e6, "ms")
	metric("parked_1m_release_cpu", c3-c2, "ms")
	metric("parked_1m_rss_after", float64(rssBytes())/(1<<20), "MiB")
	fmt.Printf("Go: %d goroutines parked; /proc/self/maps %d -> %d lines\n", n, maps0, maps1)
}
