package views // import "github.com/mozilla/otelcol-glam/internal/views"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// windowJSON is a window as the usage API and the runtime view table hold
// it: durations as Go duration strings ("24h", "30m"), as in the config.
type windowJSON struct {
	Size        string `json:"size,omitempty"`
	SessionGap  string `json:"session_gap,omitempty"`
	MaxDuration string `json:"max_duration,omitempty"`
}

// MarshalJSON writes durations as strings.
func (w Window) MarshalJSON() ([]byte, error) {
	var j windowJSON
	if w.Size != 0 {
		j.Size = shortDuration(w.Size)
	}
	if w.SessionGap != 0 {
		j.SessionGap = shortDuration(w.SessionGap)
	}
	if w.MaxDuration != 0 {
		j.MaxDuration = shortDuration(w.MaxDuration)
	}
	return json.Marshal(j)
}

// shortDuration is d as a person writes it in a config: 24h, 1h30m, 30m,
// not Go's 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalJSON reads durations as strings, refusing unknown keys.
func (w *Window) UnmarshalJSON(b []byte) error {
	var j windowJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	var out Window
	for _, f := range []struct {
		key string
		s   string
		d   *time.Duration
	}{{"size", j.Size, &out.Size}, {"session_gap", j.SessionGap, &out.SessionGap}, {"max_duration", j.MaxDuration, &out.MaxDuration}} {
		if f.s == "" {
			continue
		}
		d, err := time.ParseDuration(f.s)
		if err != nil {
			return fmt.Errorf("window.%s: %w", f.key, err)
		}
		*f.d = d
	}
	*w = out
	return nil
}

// Parse reads one definition as JSON, refusing unknown keys and trailing
// data, so that a misspelt option is an error rather than a default.
func Parse(b []byte) (Definition, error) {
	var d Definition
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, err
	}
	if dec.More() {
		return d, fmt.Errorf("unexpected data after the view definition")
	}
	return d, nil
}
