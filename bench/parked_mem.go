//go:build ignore

// parked_mem: Go's peer of parked_mem.c: N goroutines (default 100,000) blocked on a
// receive from one channel; RSS delta / N, the runtime's StackInuse delta / N and the
// page-table (VmPTE) delta / N. A goroutine calls Done on a `started` WaitGroup just
// before it blocks; main waits on it, then sleeps 20 ms so the last ones are parked too, and
// checks runtime.NumGoroutine() == N + 1. Then it closes the channel and waits.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

var (
	gate    = make(chan struct{})
	started sync.WaitGroup
	exited  sync.WaitGroup
)

func parker() {
	started.Done()
	<-gate
	exited.Done()
}

func vmPTEBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		die("open /proc/self/status", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "VmPTE: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	return -1
}

func main() {
	setup()
	n := orDefault(flagN, 100000)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	rss0, pte0 := rssBytes(), vmPTEBytes()
	t0 := nowNs()
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go parker()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond)
	t1 := nowNs()
	rss1, pte1 := rssBytes(), vmPTEBytes()
	runtime.ReadMemStats(&ms1)
	if g := runtime.NumGoroutine(); g != n+1 {
		fmt.Fprintf(os.Stderr, "parked_mem: %d goroutines, want %d\n", g, n+1)
		os.Exit(1)
	}
	metric("parked_mem_per_g", float64(rss1-rss0)/float64(n), "B")
	metric("parked_stack_per_g", float64(ms1.StackInuse-ms0.StackInuse)/float64(n), "B")
	metric("parked_pte_per_g", float64(pte1-pte0)/float64(n), "B")
	close(gate)
	exited.Wait()
	t2 := nowNs()
	fmt.Printf("Go: %d goroutines parked in %.1f ms (incl. a 20 ms settle), released and exited in %.1f ms; Sys grew %.1f MiB\n",
		n, float64(t1-t0)/1e6, float64(t2-t1)/1e6, float64(ms1.Sys-ms0.Sys)/(1<<20))
}
