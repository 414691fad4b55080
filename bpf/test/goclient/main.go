// A Go client for bpf/test/attach_check.c: Go issues its socket syscalls
// itself, so no LD_PRELOAD shim reaches it; built with CGO_ENABLED=0 it is
// static too.
//
//	goclient PORT plain    dial 127.0.0.1:PORT with Go's keepalive turned off
//	                       (net.Dialer{KeepAlive: -1}): what tcpkeep set stays
//	goclient PORT default  dial with Go's defaults: Go turns keepalive on after
//	                       connect (15 s idle and interval), so it wins
//
// It prints one line in the format of probe.c.
package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

const tcpUserTimeout = 0x12 // TCP_USER_TIMEOUT, not in package syscall

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goclient PORT plain|default")
		os.Exit(2)
	}
	dialer := net.Dialer{Timeout: 5 * time.Second}
	if os.Args[2] == "plain" {
		dialer.KeepAlive = -1
	}
	conn, err := dialer.Dial("tcp4", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Println("error dial:", err)
		os.Exit(2)
	}
	defer conn.Close()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		fmt.Println("error syscallconn:", err)
		os.Exit(2)
	}
	line := "connected"
	options := []struct {
		name          string
		level, option int
	}{
		{"keepalive", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE},
		{"idle", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
		{"interval", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL},
		{"count", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT},
		{"user_timeout", syscall.IPPROTO_TCP, tcpUserTimeout},
	}
	raw.Control(func(fd uintptr) {
		for _, o := range options {
			value, err := syscall.GetsockoptInt(int(fd), o.level, o.option)
			if err != nil {
				line += fmt.Sprintf(" %s=%v", o.name, err)
			} else {
				line += fmt.Sprintf(" %s=%d", o.name, value)
			}
		}
	})
	fmt.Println(line)
}
