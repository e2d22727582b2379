package config

import "reflect"

// Diff is what changed between two configurations, as a reload applies
// it: TAs are matched by name.
type Diff struct {
	// Added and Changed are in the new configuration's order, Removed in
	// the old one's. A changed TA is in Changed only, with its new
	// settings.
	Added, Removed, Changed []TA
	// Global names the fields outside tas that differ (mount, tee,
	// metrics).
	Global []string
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 && len(d.Global) == 0
}

// Compare says what changed from old to new. Both are checked
// configurations (defaults applied), so that a field left out and the
// same field set to its default compare equal.
func Compare(old, new *Config) Diff {
	var d Diff
	if old.Mount != new.Mount {
		d.Global = append(d.Global, "mount")
	}
	if old.TEE != new.TEE {
		d.Global = append(d.Global, "tee")
	}
	if old.Metrics != new.Metrics {
		d.Global = append(d.Global, "metrics")
	}
	if old.SimThreads != new.SimThreads {
		d.Global = append(d.Global, "sim_threads")
	}
	was := make(map[string]TA, len(old.TAs))
	for _, t := range old.TAs {
		was[t.Name] = t
	}
	is := make(map[string]bool, len(new.TAs))
	for _, t := range new.TAs {
		is[t.Name] = true
		o, ok := was[t.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, t)
		case !o.Equal(t):
			d.Changed = append(d.Changed, t)
		}
	}
	for _, t := range old.TAs {
		if !is[t.Name] {
			d.Removed = append(d.Removed, t)
		}
	}
	return d
}

// Equal reports whether t and u configure the same TA in every field.
// (A wasm or native file changed in place under the same path is not
// seen: the configuration is the same.) An empty list and a list left out
// are the same where they mean the same; not for proxies, where left out
// publishes every address and [] none.
func (t TA) Equal(u TA) bool { return reflect.DeepEqual(t.canonical(), u.canonical()) }

func (t TA) canonical() TA {
	if len(t.Listen) == 0 {
		t.Listen = nil
	}
	if len(t.Endpoints) == 0 {
		t.Endpoints = nil
	}
	if len(t.HostAccess.Addrs) == 0 {
		t.HostAccess.Addrs = nil
	}
	return t
}
