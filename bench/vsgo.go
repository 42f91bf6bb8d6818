//go:build ignore

// vsgo.go: what the Go side of a "vs Go" bench shares (bench/<name>.go, built together
// with this file). The Go twin of vsgo.h; the output protocol is described there.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"syscall"
	"time"
)

var (
	flagProcs  = flag.Int("p", 0, "GOMAXPROCS (0: the default)")
	flagN      = flag.Int("n", 0, "size of the workload (0: the bench's default)")
	flagRounds = flag.Int("r", 0, "rounds inside one process (0: the bench's default)")
)

// setup parses the flags and sets GOMAXPROCS.
func setup() {
	flag.Parse()
	if *flagProcs > 0 {
		runtime.GOMAXPROCS(*flagProcs)
	}
}

func orDefault(v *int, d int) int {
	if *v > 0 {
		return *v
	}
	return d
}

var start = time.Now()

// nowNs: monotonic nanoseconds.
func nowNs() int64 { return int64(time.Since(start)) }

func metric(key string, value float64, unit string) {
	fmt.Printf("metric %s %.6g %s\n", key, value, unit)
}

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s failed: %v\n", what, err)
	os.Exit(1)
}

// rssBytes: resident set of the process (/proc/self/statm, second field).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		die("read /proc/self/statm", err)
	}
	var size, res int64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		die("parse /proc/self/statm", err)
	}
	return res * int64(os.Getpagesize())
}

// mapsCount: lines of /proc/self/maps, the process's VMA count.
func mapsCount() int64 {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		die("read /proc/self/maps", err)
	}
	return int64(bytes.Count(b, []byte{'\n'}))
}

func minflt() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt
}

// cpuMs: CPU time (user + system) of the whole process so far, in ms (vsgo.h's cpu_ms).
func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

func maxrssBytes() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

func medianI64(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
