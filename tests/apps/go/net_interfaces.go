// The VM's network interfaces as Go's net package lists them (built on rtnetlink dumps):
// net.Interfaces, each interface's addresses, net.InterfaceAddrs and net.InterfaceByName.
// Used by net.rs (`interfaces_are_listed_as_on_linux`).
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	interfaces, err := net.Interfaces()
	if err != nil {
		fmt.Println("interfaces:", err)
		os.Exit(1)
	}
	for _, i := range interfaces {
		fmt.Printf("%d %s mtu=%d hw=%q flags=%s\n", i.Index, i.Name, i.MTU, i.HardwareAddr.String(), i.Flags)
		addrs, err := i.Addrs()
		if err != nil {
			fmt.Println("  addrs:", err)
			continue
		}
		for _, a := range addrs {
			fmt.Printf("  %s\n", a)
		}
	}
	all, err := net.InterfaceAddrs()
	fmt.Println("all addresses:", all, err)
	eth0, err := net.InterfaceByName("eth0")
	if err != nil {
		fmt.Println("eth0:", err)
		os.Exit(1)
	}
	fmt.Println("eth0 index:", eth0.Index)
}
