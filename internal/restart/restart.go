// Package restart is what the supervisor does when a TA's shadow ends:
// whether it starts the TA again (Policy, a TA's restart:) and what
// becomes of the TA's directory when it does (Tree, on_restart:). The
// configuration produces them (config.TA.RestartPolicy and
// OnRestartTree); the supervisor acts on them.
package restart

// Policy says when a TA that stopped is started again. The zero value is
// the default.
type Policy uint8

const (
	// OnFailure restarts a TA that failed, not one that exited with
	// status 0.
	OnFailure Policy = iota
	// Always restarts a TA however it ended.
	Always
	// Never leaves a TA that ended stopped.
	Never
)

var policyNames = [...]string{OnFailure: "on-failure", Always: "always", Never: "never"}

// String is p as the configuration writes it.
func (p Policy) String() string { return name(policyNames[:], p) }

// ParsePolicy reads a policy as the configuration writes it.
func ParsePolicy(s string) (Policy, bool) { return parse[Policy](policyNames[:], s) }

// Tree says what happens to a TA's directory when the TA restarts. The
// zero value is the default.
type Tree uint8

const (
	// Keep leaves every node in place.
	Keep Tree = iota
	// Clear empties the directory back to the declared endpoints.
	Clear
)

var treeNames = [...]string{Keep: "keep", Clear: "clear"}

// String is t as the configuration writes it.
func (t Tree) String() string { return name(treeNames[:], t) }

// ParseTree reads an on_restart value as the configuration writes it.
func ParseTree(s string) (Tree, bool) { return parse[Tree](treeNames[:], s) }

// name is v's word in names.
func name[T ~uint8](names []string, v T) string {
	if int(v) < len(names) {
		return names[v]
	}
	return "unknown"
}

// parse finds s in names; the zero value, the default, if it is not
// there.
func parse[T ~uint8](names []string, s string) (T, bool) {
	for v, n := range names {
		if n == s {
			return T(v), true
		}
	}
	return 0, false
}
