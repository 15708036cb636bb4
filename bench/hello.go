// The Go hello of bench/run.sh's cold-start figures: the Go runtime's start-up (its threads,
// heap arenas and signal handlers) and one line of output.
package main

import "fmt"

func main() { fmt.Println("hello") }
