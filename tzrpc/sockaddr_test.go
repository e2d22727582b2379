package tzrpc

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestSockaddrRoundTrip(t *testing.T) {
	ap := func(s string) Sockaddr {
		sa, err := InetSockaddr(netip.MustParseAddrPort(s))
		if err != nil {
			t.Fatal(err)
		}
		return sa
	}
	tests := []struct {
		sa     Sockaddr
		enc    []byte
		str    string
		family Family
	}{
		{ap("1.2.3.4:258"), []byte{1, 0, 2, 1, 1, 2, 3, 4}, "1.2.3.4:258", FamilyInet},
		{ap("[::ffff:1.2.3.4]:80"), nil, "[::ffff:1.2.3.4]:80", FamilyInet6},
		{ap("[fe80::1%7]:1"), nil, "[fe80::1%7]:1", FamilyInet6},
		{ap("[::1]:65535"), nil, "[::1]:65535", FamilyInet6},
		{mustUnix("/a"), []byte{3, 0, 0, 0, 2, 0, '/', 'a'}, "unix:/a", FamilyUnix},
		{mustUnix(""), []byte{3, 0, 0, 0, 0, 0}, "unix:(unnamed)", FamilyUnix},
		{mustUnix(strings.Repeat("u", MaxUnixPath)), nil, "", FamilyUnix},
	}
	for _, tt := range tests {
		enc := tt.sa.Marshal()
		if tt.enc != nil && !bytes.Equal(enc, tt.enc) {
			t.Errorf("%v: encoding % x, want % x", tt.sa, enc, tt.enc)
		}
		if len(enc) != tt.sa.Len() || tt.sa.Family() != tt.family || !tt.sa.IsValid() {
			t.Errorf("%v: Len %d (encoded %d), Family %v", tt.sa, tt.sa.Len(), len(enc), tt.sa.Family())
		}
		if tt.str != "" && tt.sa.String() != tt.str {
			t.Errorf("String() = %q, want %q", tt.sa.String(), tt.str)
		}
		got, n, err := ParseSockaddr(append(enc, "trailing"...))
		if err != nil || n != len(enc) || got != tt.sa {
			t.Errorf("%v: parse gave %v, %d, %v", tt.sa, got, n, err)
		}
	}
	if sa6.AddrPort().Addr().Zone() != "2" || sa6.Scope() != 2 || sa6.Port() != 7001 {
		t.Errorf("scope lost: %v", sa6.AddrPort())
	}
	if (Sockaddr{}).Len() != 0 || len((Sockaddr{}).AppendTo(nil)) != 0 || (Sockaddr{}).IsValid() {
		t.Error("zero Sockaddr must encode to nothing")
	}
	if sa, _ := InetSockaddr(netip.MustParseAddrPort("[fe80::1%0]:1")); sa != Inet6Sockaddr(netip.MustParseAddr("fe80::1").As16(), 1, 0) {
		t.Error("zone 0 should be scope 0")
	}
}

func TestSockaddrConstructErrors(t *testing.T) {
	if _, err := InetSockaddr(netip.MustParseAddrPort("[fe80::1%eth0]:1")); !errors.Is(err, ErrBadSockaddr) {
		t.Errorf("named zone: %v", err)
	}
	if _, err := InetSockaddr(netip.AddrPort{}); !errors.Is(err, ErrBadSockaddr) {
		t.Errorf("invalid addr: %v", err)
	}
	if _, err := UnixSockaddr(strings.Repeat("u", MaxUnixPath+1)); !errors.Is(err, ErrBadSockaddr) {
		t.Errorf("long path: %v", err)
	}
	if _, err := UnixSockaddr("\x00abstract"); !errors.Is(err, ErrBadSockaddr) {
		t.Errorf("abstract path: %v", err)
	}
}

func TestParseSockaddrErrors(t *testing.T) {
	tests := map[string][]byte{
		"empty":            nil,
		"3 bytes":          {1, 0, 0},
		"family 0":         {0, 0, 0, 0, 1, 2, 3, 4},
		"family 4":         {4, 0, 0, 0, 1, 2, 3, 4},
		"AF_INET6 number":  append([]byte{10, 0, 0, 0}, make([]byte, 20)...),
		"inet short":       {1, 0, 0, 0, 1, 2, 3},
		"inet6 short":      append([]byte{2, 0, 0, 0}, make([]byte, 19)...),
		"unix short":       {3, 0, 0, 0, 0},
		"unix port":        {3, 0, 1, 0, 0, 0},
		"unix length 108":  append([]byte{3, 0, 0, 0, 108, 0}, bytes.Repeat([]byte("u"), 108)...),
		"unix truncated":   {3, 0, 0, 0, 2, 0, 'a'},
		"unix NUL":         {3, 0, 0, 0, 2, 0, 'a', 0},
		"unix abstract":    {3, 0, 0, 0, 2, 0, 0, 'a'},
		"unix length 64k":  {3, 0, 0, 0, 0xff, 0xff, 'a'},
		"big-endian inet":  {0, 1, 0, 80, 1, 2, 3, 4},
		"big-endian unix6": {0, 3, 0, 0, 0, 0},
	}
	for name, b := range tests {
		if _, n, err := ParseSockaddr(b); !errors.Is(err, ErrBadSockaddr) || n != 0 {
			t.Errorf("%s: n=%d err=%v", name, n, err)
		}
	}
}
