package walkthrough

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Release is one PostgreSQL release as its manifest (release.yaml) describes
// it: the release itself, the files its notes cite, the facts a driver needs
// to walk BackendStartup there, and the stops every driver reports. A driver
// reads these facts; it never branches on a version number.
type Release struct {
	Version Version
	// Files are the source files the release's notes cite.
	Files []string
	// FileSHA256 pins files of Files by the SHA-256 of their whole text at
	// the tag, in hex, where it is known: a downloaded copy must have it.
	FileSHA256 map[string]string
	Facts      Facts
	// Plans holds one stop plan per scenario, in the order of Scenarios.
	Plans []StopPlan
	// Function is the whole of the walked function (Facts.Startup.Function)
	// in the release's text, header comment included; nil when the
	// manifest does not give it. `pgwalk source function` shows it.
	Function *FunctionRange
}

// FunctionRange is where a function lies in one of a release's files, with
// the hash of its lines in the project's format (the first 16 hex digits of
// the SHA-256 of lines First..Last, each ending in a newline).
type FunctionRange struct {
	File   string `yaml:"file"`
	First  int    `yaml:"first"`
	Last   int    `yaml:"last"`
	SHA256 string `yaml:"sha256"`
}

// StopPlan is the ordered stops of one scenario.
type StopPlan struct {
	Scenario string
	Stops    []PlannedStop
}

// PlannedStop is one stop of a plan: where every driver stops, in which
// process, and which values a driver that observes reports there.
type PlannedStop struct {
	Phase   PhaseID `yaml:"phase"`
	Process Process `yaml:"process"`
	// Point is the stop's stable key: "record-allocated".
	Point string `yaml:"point"`
	// At says where in the release's code the stop is.
	At string `yaml:"at"`
	// Values are keys of Values (their JSON names) that a driver that
	// observes reports at this stop.
	Values []string `yaml:"values"`
	// Expect gives some of Values the value a driver that observes must
	// report at this stop, where the scenario decides it: a bool, an
	// integer or a string, compared with the value's JSON encoding
	// ({dead_end: true, can_accept: CAC_TOOMANY, child_slot: 0}).
	Expect map[string]any `yaml:"expect"`
}

// Plan returns the stop plan of scenario ("" means "normal").
func (r *Release) Plan(scenario string) (StopPlan, error) {
	if scenario == "" {
		scenario = ScenarioNormal
	}
	for _, p := range r.Plans {
		if p.Scenario == scenario {
			return p, nil
		}
	}
	return StopPlan{}, fmt.Errorf("release %s has no plan for scenario %q (scenarios: %s)", r.Version.Name, scenario, strings.Join(r.scenarios(), ", "))
}

func (r *Release) scenarios() []string {
	out := make([]string, len(r.Plans))
	for i, p := range r.Plans {
		out[i] = p.Scenario
	}
	return out
}

// manifest is release.yaml as written.
type manifest struct {
	Release string                   `yaml:"release"`
	Tag     string                   `yaml:"tag"`
	Major   int                      `yaml:"major"`
	Files   []string                 `yaml:"files"`
	Pins    map[string]string        `yaml:"file_sha256"`
	Facts   Facts                    `yaml:"facts"`
	Plans   map[string][]PlannedStop `yaml:"plans"`
	// Function is optional: the range of Facts.Startup.Function.
	Function *FunctionRange `yaml:"function"`
}

// ManifestError says what is wrong with a release manifest.
type ManifestError struct {
	File  string
	Field string
	Msg   string
}

func (e *ManifestError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// ParseRelease reads and checks one release manifest; name is used in
// errors. It does no I/O.
func ParseRelease(name string, data []byte) (*Release, error) {
	var m manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, &ManifestError{File: name, Msg: err.Error()}
	}
	r := &Release{
		Version:    Version{Name: m.Release, Tag: m.Tag, Major: m.Major},
		Files:      m.Files,
		FileSHA256: m.Pins,
		Facts:      m.Facts,
		Function:   m.Function,
	}
	for _, sc := range Scenarios {
		if stops, ok := m.Plans[sc]; ok {
			r.Plans = append(r.Plans, StopPlan{Scenario: sc, Stops: stops})
		}
	}
	for sc := range m.Plans {
		if !isScenario(sc) {
			return nil, &ManifestError{File: name, Field: "plans", Msg: fmt.Sprintf("unknown scenario %q (scenarios: %s)", sc, strings.Join(Scenarios, ", "))}
		}
	}
	if err := r.validate(); err != nil {
		err.File = name
		return nil, err
	}
	if err := r.validateFunction(); err != nil {
		err.File = name
		return nil, err
	}
	r.Version.release = r
	return r, nil
}

func isScenario(s string) bool {
	for _, sc := range Scenarios {
		if s == sc {
			return true
		}
	}
	return false
}

// validateFunction checks the manifest's function range, when it has one:
// a file the release cites, a range that counts from 1 and is not
// inverted, and a hash of 16 lowercase hex digits.
func (r *Release) validateFunction() *ManifestError {
	f := r.Function
	if f == nil {
		return nil
	}
	bad := func(field, format string, args ...any) *ManifestError {
		return &ManifestError{Field: "function." + field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case f.File == "":
		return bad("file", "missing")
	case !slices.Contains(r.Files, f.File):
		return bad("file", "%s is not one of the release's files (%s)", f.File, strings.Join(r.Files, ", "))
	case f.First < 1:
		return bad("first", "line %d: lines count from 1", f.First)
	case f.Last < f.First:
		return bad("last", "inverted range %d-%d", f.First, f.Last)
	case len(f.SHA256) != 16 || strings.Trim(f.SHA256, "0123456789abcdef") != "":
		return bad("sha256", "%q is not 16 lowercase hex digits", f.SHA256)
	}
	return nil
}
