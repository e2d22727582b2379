package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
)

const faultyUUID = "5f1e2d3c-4b5a-4697-8877-665544332211"

func faultyConfig(restart string) string {
	return echoConfig("%[1]s") + fmt.Sprintf("  - name: faulty\n    uuid: %s\n    builtin: faulty\n    restart: %s\n", faultyUUID, restart)
}

func faultyReady(mount string) bool {
	c, err := net.Dial("unix", filepath.Join(mount, "faulty", "faulty.sock"))
	if err != nil {
		return false
	}
	c.Close()
	return echoReady(mount)
}

// TestTACrashMidConversation: a TA that panics, exits or fails while a CA
// talks to it closes the CA's connection visibly (EOF, no hang), is
// restarted by policy, and the other TA never stops serving.
func TestTACrashMidConversation(t *testing.T) {
	for _, fault := range []string{"panic", "exit", "fail"} {
		t.Run(fault, func(t *testing.T) {
			b := startBridge(t, faultyConfig("always"), faultyReady)
			sock := b.path("faulty", "faulty.sock")
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			fmt.Fprintf(c, "hello\n")
			if line, err := r.ReadString('\n'); err != nil || line != "hello\n" {
				t.Fatalf("before the fault: %q, %v", line, err)
			}
			fmt.Fprintf(c, "%s\n", fault)
			// The CA must see the end of the conversation, not hang.
			if n, err := r.Read(make([]byte, 1)); err == nil {
				t.Fatalf("read %d bytes after the TA %s; want EOF or an error", n, fault)
			} else if err != io.EOF && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("after the TA %s: %v; want EOF or connection reset", fault, err)
			}
			// The other TA kept serving.
			if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(4096)); err != nil {
				t.Errorf("echo TA after the faulty TA's %s: %v", fault, err)
			}
			// restart: always brings it back.
			deadline := time.Now().Add(15 * time.Second)
			for {
				c2, err := net.Dial("unix", sock)
				if err == nil {
					c2.SetDeadline(time.Now().Add(10 * time.Second))
					fmt.Fprintf(c2, "again\n")
					line, err := bufio.NewReader(c2).ReadString('\n')
					c2.Close()
					if err == nil && line == "again\n" {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("TA not back 15s after it %s: %v", fault, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if fault == "panic" && !strings.Contains(b.log.String(), "TARGET_DEAD") {
				t.Errorf("log does not report the dead TA:\n%s", b.log.String())
			}
		})
	}
}

// TestNoRestartAfterCleanExit: restart: on-failure leaves a TA that
// exited with status 0 stopped, and says so.
func TestNoRestartAfterCleanExit(t *testing.T) {
	b := startBridge(t, faultyConfig("on-failure"), faultyReady)
	c, err := net.Dial("unix", b.path("faulty", "faulty.sock"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "exit\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c)
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.log.String(), "not restarting") {
		if time.Now().After(deadline) {
			t.Fatalf("no 'not restarting' line in the log:\n%s", b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(b.path("echo", "echo.sock")); err != nil {
		t.Errorf("echo TA endpoint gone: %v", err)
	}
}
