// Package teekind is the kind of secure world a configuration selects
// (tee:): the built-in simulator, the first GP-capable device found, or
// a device named by its path. The configuration produces it
// (config.Config.TEEKind); the supervisor opens the secure world by it.
package teekind

import "strings"

// Kind is a kind of secure world. The zero value is the default.
type Kind uint8

const (
	// Sim is the built-in simulator ("sim").
	Sim Kind = iota
	// Auto is the first GP-capable /dev/teeN ("auto").
	Auto
	// Device is the device at the path the configuration gives
	// (/dev/teeN).
	Device
)

// Parse reads the configuration's tee: value.
func Parse(s string) (Kind, bool) {
	switch {
	case s == "sim":
		return Sim, true
	case s == "auto":
		return Auto, true
	case strings.HasPrefix(s, "/dev/tee"):
		return Device, true
	}
	return Sim, false
}

// String names k.
func (k Kind) String() string {
	switch k {
	case Sim:
		return "sim"
	case Auto:
		return "auto"
	case Device:
		return "device"
	}
	return "unknown"
}
