// An HTTP server (net/http) for the published-port tests and the network benchmark: it listens
// on the port given as the first argument (80 by default) and on any further ports given,
// answers "/" with "hello from uvm\n", and "/quit" with "bye\n" before shutting down cleanly
// (exit status 0). It prints one line once every listener is open. With LOG_REQUESTS=1 it logs
// a line per request to stderr (the standard log package), as a service behind a container's
// log collector does (bench/net.sh's logging rows).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	ports := os.Args[1:]
	if len(ports) == 0 {
		ports = []string{"80"}
	}
	quit := make(chan struct{})
	logRequests := os.Getenv("LOG_REQUESTS") == "1"
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if logRequests {
			log.Printf("%s %s %s", r.RemoteAddr, r.Method, r.URL.Path)
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "hello from uvm\n")
	})
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		fmt.Fprint(w, "bye\n")
		select {
		case <-quit:
		default:
			close(quit)
		}
	})
	srv := &http.Server{Handler: mux}
	var listeners []net.Listener
	for _, port := range ports {
		l, err := net.Listen("tcp", ":"+port)
		if err != nil {
			fmt.Fprintf(os.Stderr, "listen on :%s: %v\n", port, err)
			os.Exit(1)
		}
		listeners = append(listeners, l)
	}
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		go func(l net.Listener) { served <- srv.Serve(l) }(l)
	}
	fmt.Printf("listening on :%s\n", strings.Join(ports, " :"))

	select {
	case <-quit:
	case err := <-served:
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		os.Exit(1)
	}
	// Shutdown closes the listeners and idle connections and waits for the active ones (the
	// /quit answer among them) to finish.
	if err := srv.Shutdown(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "shutdown: %v\n", err)
		os.Exit(1)
	}
	for range listeners {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "serve: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Println("shut down")
}
