package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugAddrUsage is the --debug-addr flag's help, the same for serve and sim.
const debugAddrUsage = "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty; never expose it)"

// serveProfiler serves Go's profiler on addr, a loopback address (the
// profiles show what the process holds and does), until the returned
// server is shut down.
func serveProfiler(addr string, log *slog.Logger) (*http.Server, error) {
	if !isLoopback(addr) {
		return nil, fmt.Errorf("--debug-addr %s: the profiler may only listen on a loopback address such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Warn("profiler served; keep this address private", "addr", ln.Addr().String())
	return srv, nil
}
