package probebuild

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Aggregation levels of the GLAM app: rows for all builds of a version
// (build_id '*') or one row per build.
const (
	LevelVersion = "version"
	LevelBuildID = "build_id"
)

// Request is the body of POST /api/v1/probe-builds (SPEC §6).
type Request struct {
	Product          string `json:"product"`
	Channel          string `json:"channel"`
	Probe            string `json:"probe"`
	Process          string `json:"process,omitempty"`
	OS               string `json:"os,omitempty"`
	Versions         int    `json:"versions,omitempty"`
	AggregationLevel string `json:"aggregation_level,omitempty"`
	PingType         string `json:"ping_type,omitempty"`
	AppID            string `json:"app_id,omitempty"`
}

// DefaultVersions is how many of the latest versions a build covers when the
// request does not say, as in the GLAM app and ETL.
const DefaultVersions = 3

// MaxVersions bounds the versions a request may ask for: GLAM ETL keeps
// versions down to latest-10 at most.
const MaxVersions = 10

var (
	identifier = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	probeName  = regexp.MustCompile(`^[A-Za-z0-9_.]{1,200}$`)
	osName     = regexp.MustCompile(`^(\*|[A-Za-z0-9_ ]{1,64})$`)
)

var desktopChannels = map[string]bool{"nightly": true, "beta": true, "release": true}
var desktopProcesses = map[string]bool{"parent": true, "content": true, "gpu": true}

// Normalize fills defaults and checks every field; its error is the 400
// message, listing every problem.
func (r *Request) Normalize() error {
	r.Product = strings.ToLower(strings.TrimSpace(r.Product))
	r.Channel = strings.ToLower(strings.TrimSpace(r.Channel))
	r.Probe = strings.TrimSpace(r.Probe)
	r.Process = strings.ToLower(strings.TrimSpace(r.Process))
	r.PingType = strings.ToLower(strings.TrimSpace(r.PingType))
	r.AppID = strings.ToLower(strings.TrimSpace(r.AppID))
	r.OS = strings.TrimSpace(r.OS)
	if r.Versions == 0 {
		r.Versions = DefaultVersions
	}
	if r.AggregationLevel == "" {
		r.AggregationLevel = LevelVersion
	}
	var errs []error
	switch r.Product {
	case ProductFirefox:
		if !desktopChannels[r.Channel] {
			errs = append(errs, fmt.Errorf("channel must be nightly, beta or release for product firefox, got %q", r.Channel))
		}
		if r.Process != "" && !desktopProcesses[r.Process] {
			errs = append(errs, fmt.Errorf("process must be parent, content or gpu, got %q", r.Process))
		}
		if r.PingType != "" || r.AppID != "" {
			errs = append(errs, errors.New("ping_type and app_id apply to fenix and fog only"))
		}
	case ProductFenix, ProductFOG:
		if r.Channel == "" {
			r.Channel = r.AppID
		}
		if r.AppID == "" {
			r.AppID = r.Channel
		}
		if !identifier.MatchString(r.Channel) {
			errs = append(errs, fmt.Errorf("channel (or app_id) must be a lowercase identifier, got %q", r.Channel))
		}
		if !identifier.MatchString(r.AppID) {
			errs = append(errs, fmt.Errorf("app_id must be a lowercase identifier, got %q", r.AppID))
		}
		if r.PingType == "" {
			r.PingType = "metrics"
		}
		if !identifier.MatchString(r.PingType) {
			errs = append(errs, fmt.Errorf("ping_type must be a lowercase identifier, got %q", r.PingType))
		}
		if r.Process != "" {
			errs = append(errs, errors.New("process applies to product firefox only"))
		}
	case "":
		errs = append(errs, errors.New("product is required (firefox, fenix or fog)"))
	default:
		errs = append(errs, fmt.Errorf("product must be firefox, fenix or fog, got %q", r.Product))
	}
	if !probeName.MatchString(r.Probe) {
		errs = append(errs, fmt.Errorf("probe must be 1 to 200 letters, digits, '_' or '.', got %q", r.Probe))
	}
	if r.OS != "" && !osName.MatchString(r.OS) {
		errs = append(errs, fmt.Errorf("os must be '*' or an OS name, got %q", r.OS))
	}
	if r.Versions < 1 || r.Versions > MaxVersions {
		errs = append(errs, fmt.Errorf("versions must be between 1 and %d, got %d", MaxVersions, r.Versions))
	}
	if r.AggregationLevel != LevelVersion && r.AggregationLevel != LevelBuildID {
		errs = append(errs, fmt.Errorf("aggregation_level must be version or build_id, got %q", r.AggregationLevel))
	}
	return errors.Join(errs...)
}

// Build returns the build a normalized request asks for.
func (r Request) Build() Build {
	return Build{Product: r.Product, Channel: r.Channel, AppID: r.AppID, PingType: r.PingType, Probe: r.Probe, Versions: r.Versions}
}
