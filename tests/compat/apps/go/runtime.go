// What Go's runtime needs from the kernel, used the way Go programs use it: goroutines on
// several threads, channels, select with timers and tickers, sync.WaitGroup/Mutex, garbage
// collection under allocation load, a tight loop preempted by the runtime (SIGURG sent to a
// chosen thread), os file I/O, pipes through the netpoller (epoll), GOMAXPROCS honoured, and
// child processes through os/exec (the program runs itself as a child, whose output and exit
// status it reads) and syscall.Exec from a process of several threads (the program runs
// itself again). One line per check; only the main goroutine prints, never times or
// addresses.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func check(what string, ok bool) {
	if ok {
		fmt.Printf("%s: ok\n", what)
		return
	}
	fmt.Printf("%s: FAILED\n", what)
	os.Exit(1)
}

var sink uint64

func main() {
	if len(os.Args) == 3 && os.Args[1] == "child" {
		fmt.Printf("a child says %s\n", os.Args[2])
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "child-fails" {
		os.Exit(3)
	}
	if len(os.Args) > 1 && os.Args[1] == "after-exec" {
		check("syscall.Exec ran the program again, with its arguments and environment",
			len(os.Args) == 3 && os.Args[2] == "two words" && os.Getenv("EXECED") == "yes")
		fmt.Println("all ok")
		return
	}
	check("GOMAXPROCS follows the CPUs", runtime.GOMAXPROCS(0) == runtime.NumCPU() && runtime.NumCPU() >= 1)

	// Goroutines and channels: a pipeline of 3 stages over 10000 values.
	src := make(chan int)
	sq := make(chan int, 16)
	go func() {
		for i := 1; i <= 10000; i++ {
			src <- i
		}
		close(src)
	}()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range src {
				sq <- v * v
			}
		}()
	}
	go func() { wg.Wait(); close(sq) }()
	var sum int
	for v := range sq {
		sum += v
	}
	check("pipeline of goroutines", sum == 333383335000)

	// Many goroutines and a mutex.
	var mu sync.Mutex
	counter := 0
	var wg2 sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for j := 0; j < 100; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg2.Wait()
	check("1000 goroutines under a mutex", counter == 100000)

	// Timers, tickers and select. The elapsed time counts from before the ticker is made: a
	// stall between the two (a loaded host) leaves a tick waiting and the next ones on the
	// ticker's schedule, so five ticks could come less than 8 ms after a later start.
	start := time.Now()
	ticker := time.NewTicker(2 * time.Millisecond)
	ticks := 0
	// The timeout only bounds the wait: under a loaded host (parallel tests on 2 CPUs) a VM
	// can stall for tens of ms, which made a 50 ms bound fail about once in 80 runs.
	timeout := time.After(2 * time.Second)
loop:
	for {
		select {
		case <-ticker.C:
			ticks++
			if ticks == 5 {
				break loop
			}
		case <-timeout:
			break loop
		}
	}
	ticker.Stop()
	check("a ticker ticks 5 times", ticks == 5 && time.Since(start) >= 8*time.Millisecond)
	t := time.NewTimer(time.Hour)
	check("a stopped timer does not fire", t.Stop())
	time.Sleep(3 * time.Millisecond)

	// Garbage collection under allocation load from several goroutines.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg3 sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg3.Add(1)
		go func(g int) {
			defer wg3.Done()
			var keep [][]byte
			for i := 0; i < 3000; i++ {
				b := make([]byte, 32<<10)
				b[0] = byte(i)
				keep = append(keep, b)
				if len(keep) > 16 {
					keep = keep[1:]
				}
			}
			atomic.AddUint64(&sink, uint64(len(keep)))
		}(g)
	}
	wg3.Wait()
	runtime.GC()
	runtime.ReadMemStats(&after)
	check("garbage collection ran and freed memory", after.NumGC > before.NumGC && after.HeapAlloc < 64<<20)

	// A goroutine in a tight loop with no function calls must be preempted so that others
	// (here: the GC's stop-the-world and this goroutine) run with one P.
	old := runtime.GOMAXPROCS(1)
	var stop int32
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			sink++
		}
	}()
	time.Sleep(5 * time.Millisecond)
	runtime.GC()
	atomic.StoreInt32(&stop, 1)
	runtime.GOMAXPROCS(old)
	check("a tight loop is preempted", true)

	// os file I/O in /tmp.
	data := strings.Repeat("uvm go file\n", 1000)
	err := os.WriteFile("/tmp/go-file.txt", []byte(data), 0o644)
	back, err2 := os.ReadFile("/tmp/go-file.txt")
	check("os.WriteFile then os.ReadFile", err == nil && err2 == nil && string(back) == data)
	if err := os.Mkdir("/tmp/go-dir", 0o755); err == nil {
		for _, n := range []string{"b", "a", "c"} {
			os.WriteFile("/tmp/go-dir/"+n, nil, 0o600)
		}
	}
	entries, err := os.ReadDir("/tmp/go-dir")
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	check("os.ReadDir", err == nil && strings.Join(names, ",") == "a,b,c")

	// A pipe: os.Pipe's ends are non-blocking and go through the netpoller (epoll).
	r, w, err := os.Pipe()
	check("os.Pipe", err == nil)
	go func() {
		for i := 0; i < 100; i++ {
			fmt.Fprintf(w, "line %d\n", i)
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		w.Close()
	}()
	all, err := io.ReadAll(r)
	check("reading a pipe another goroutine writes", err == nil && strings.Count(string(all), "\n") == 100)
	r.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = r.Read(make([]byte, 1))
	check("a read at end of file", err == io.EOF)
	r2, w2, _ := os.Pipe()
	r2.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = r2.Read(make([]byte, 1))
	check("a read deadline on an empty pipe", os.IsTimeout(err))
	w2.Close()
	r2.Close()

	// The runtime's threads (sysmon, the GC's workers, idle Ps) end as the program is
	// replaced.
	self, err := os.Executable()
	check("os.Executable", err == nil)

	// Child processes (Go forks with CLONE_VM|CLONE_VFORK from a process of several threads).
	out, err := exec.Command(self, "child", "hello there").Output()
	check("os/exec ran a child and read its output", err == nil && string(out) == "a child says hello there\n")
	err = exec.Command(self, "child-fails").Run()
	var exitErr *exec.ExitError
	check("os/exec saw a child's exit status", errors.As(err, &exitErr) && exitErr.ExitCode() == 3)
	err = exec.Command("/no/such/program").Run()
	check("os/exec of a missing program fails with its error", errors.Is(err, os.ErrNotExist))
	err = syscall.Exec(self, []string{"runtime", "after-exec", "two words"}, append(os.Environ(), "EXECED=yes"))
	fmt.Printf("syscall.Exec: %v\n", err)
	os.Exit(1)
}
