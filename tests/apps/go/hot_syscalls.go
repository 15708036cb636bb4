// Hot syscall sites in Go: every read and write of the syscall package goes through one
// site (runtime/internal/syscall.Syscall6, number in %rax), which the kernel rewrites to
// enter it without a trap; results must stay right.
package main

import (
	"fmt"
	"os"
)

func main() {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println("pipe:", err)
		os.Exit(1)
	}
	wrong := 0
	buf := make([]byte, 1)
	for i := 0; i < 1000; i++ {
		c := byte('a' + i%26)
		if n, err := w.Write([]byte{c}); n != 1 || err != nil {
			wrong++
			continue
		}
		if n, err := r.Read(buf); n != 1 || err != nil || buf[0] != c {
			wrong++
		}
	}
	fmt.Printf("pipe round trips x1000: %d wrong\n", wrong)
}
