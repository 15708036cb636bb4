// Go benchmarks for docs/PERFORMANCE.md (bench/threads.sh runs them natively and in uvm).
//   goroutines spawn N   starts N goroutines that each send on a channel, and waits for all
//   goroutines           prints a line (the cold start of a Go program)
// `spawn` prints the elapsed wall time of the measured part in microseconds.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) == 1 {
		fmt.Println("hello from go")
		return
	}
	if len(os.Args) != 3 || os.Args[1] != "spawn" {
		fmt.Fprintln(os.Stderr, "usage: goroutines spawn N | goroutines")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "bad count")
		os.Exit(2)
	}
	start := time.Now()
	var wg sync.WaitGroup
	done := make(chan int, 1024)
	go func() {
		for range done {
		}
	}()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			done <- i
			wg.Done()
		}(i)
	}
	wg.Wait()
	close(done)
	fmt.Println(time.Since(start).Microseconds())
}
