package tzrpc

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSockoptTableMatchesDoc: the table and docs/protocol.md §5.5 list the
// same options, with the same numbers, names, directions and values.
func TestSockoptTableMatchesDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	meaning := map[SockoptKind]string{
		SockoptBool: "boolean", SockoptSize: "bytes",
		SockoptErrno: "tzrpc errno", SockoptType: "SOCK_STREAM / SOCK_DGRAM",
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| ((?:SO|TCP)_[A-Z]+) \|\s*(✓?)\s*\|\s*(✓?)\s*\| ([^|]+) \|$`)
	rows := row.FindAllStringSubmatch(string(doc), -1)
	if len(rows) != len(sockopts)-1 {
		t.Fatalf("docs/protocol.md lists %d socket options, the table %d", len(rows), len(sockopts)-1)
	}
	for _, r := range rows {
		num, _ := strconv.ParseInt(r[1], 10, 64)
		o, ok := LookupSockopt(num)
		if !ok {
			t.Errorf("docs/protocol.md lists option %d, the table does not", num)
			continue
		}
		got := []string{o.Name, "✓", map[bool]string{true: "✓"}[o.Settable()], meaning[o.Kind]}
		want := []string{r[2], r[3], r[4], strings.TrimSpace(r[5])}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("option %d: table %q, docs/protocol.md %q", num, got, want)
		}
	}
}
