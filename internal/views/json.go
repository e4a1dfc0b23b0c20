package views // import "github.com/mozilla/otelcol-glam/internal/views"

import (
	"bytes"
	"encoding/json"
	"fmt"
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
		j.Size = w.Size.String()
	}
	if w.SessionGap != 0 {
		j.SessionGap = w.SessionGap.String()
	}
	if w.MaxDuration != 0 {
		j.MaxDuration = w.MaxDuration.String()
	}
	return json.Marshal(j)
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
