//go:build ignore

// echo_server: Go's peer of examples/echo.c for bench/run.sh's `echo` bench: a TCP
// echo server on 127.0.0.1 with one goroutine per connection (a read/write loop
// with a 16 KiB buffer, like echo.c), TCP_NODELAY (Go's default) on each.
//
//	echo_server [-p PORT] [-n CONNS]
//	  -p  port to listen on (0, the default, picks a free one)
//	  -n  stop after CONNS connections have been served to completion (0: forever)
//
// Prints "listening on 127.0.0.1:PORT" once ready, and a summary at the end.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

func main() {
	port := flag.Int("p", 0, "port (0: any free one)")
	maxConns := flag.Int("n", 0, "stop after this many connections (0: never)")
	flag.Parse()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_server: listen:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on 127.0.0.1:%d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	var wg sync.WaitGroup
	var served, bytes atomic.Int64
	for accepted := 0; *maxConns == 0 || accepted < *maxConns; accepted++ {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo_server: accept:", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			buf := make([]byte, 16384)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					bytes.Add(int64(n))
					if _, werr := c.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.Close()
			served.Add(1)
		}(c)
	}
	ln.Close()
	wg.Wait()
	fmt.Printf("served %d connections, %d bytes echoed; GOMAXPROCS %d\n",
		served.Load(), bytes.Load(), runtime.GOMAXPROCS(0))
}
