package seqpacket

import "testing"

// TestPairKeepsBoundaries: what one end writes the other reads as one
// message, boundaries kept, both ways.
func TestPairKeepsBoundaries(t *testing.T) {
	a, b, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	for _, msg := range []string{"one", "two messages", "x"} {
		if _, err := a.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	for _, want := range []string{"one", "two messages", "x"} {
		n, err := b.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
		}
	}
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Read(buf); err != nil || string(buf[:n]) != "back" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
