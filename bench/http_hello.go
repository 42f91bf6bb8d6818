//go:build ignore

// http_hello.go: Go's net/http peer of examples/http_hello.c for bench/run.sh's http
// bench (driven by wrk): the same "Hello, World!" response (Content-Length,
// Content-Type: text/plain and Date headers, all three added here or by net/http),
// the same 60 s idle timeout, GOMAXPROCS left at its default (the CPUs), as the C
// server's Ps. Prints "listening on 127.0.0.1:PORT" once ready; runs until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	port := flag.Int("p", 0, "port to listen on (0: a free one)")
	idle := flag.Float64("t", 60, "idle timeout, seconds")
	flag.Parse()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "http_hello_go: listen:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	hello := []byte("Hello, World!")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(hello)
		}),
		IdleTimeout: time.Duration(*idle * float64(time.Second)),
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "http_hello_go: serve:", err)
		os.Exit(1)
	}
}
