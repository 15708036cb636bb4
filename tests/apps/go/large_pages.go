// A Go binary the size of a small service (net/http, encoding/json, regexp linked in: ~5 MB,
// more than 2 MiB of text and read-only data back to back), so the guest kernel maps a
// 2 MiB-aligned chunk of it with one large page. Its Syscall6 site lies in that chunk: the
// kernel rewrites it only after many traps, splitting the large page, and everything must go
// on running right across the split.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
)

func main() {
	// Code and read-only data from all over the binary, before and after the split.
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	re := regexp.MustCompile(`^[a-z]+$`)
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
		if n, err := r.Read(buf); n != 1 || err != nil || buf[0] != c || !re.Match(buf) {
			wrong++
		}
	}
	out, _ := json.Marshal(map[string]int{"wrong": wrong})
	fmt.Printf("pipe round trips x1000: %s\n", out)
}
