package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"bytes"
	"encoding/json"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// glamExtras are the extra names a Glean metrics.yaml of GLAM's events
// would use for GLAM's attributes, in order of preference. Extra keys are
// snake_case by convention, so an event defined the usual way could never
// set the dotted glam.* names that the views and the usage API read. The
// first names are GLAM's attributes spelt in snake_case; probe and process
// are the names of GLAM's own probe query (POST /api/v1/data/), which the
// app has at hand when it records a view.
var glamExtras = []struct {
	attr   string
	extras []string
}{
	{usage.AttrProduct, []string{"product"}},
	{usage.AttrProbeName, []string{"probe_name", "probe"}},
	{usage.AttrProbeProcess, []string{"probe_process", "process"}},
	{usage.AttrChannel, []string{"channel"}},
	{usage.AttrOS, []string{"os"}},
}

// renameGlamExtras moves the first of an attribute's snake_case extras to
// its glam.* name when the event did not set that name itself. The extra is
// renamed, not copied: one fact keeps one name, so raw events and
// measurement tags look the same whichever client sent them. An extra that
// is not used (the dotted name was set, or a preferred extra was there) is
// kept as it is. A null extra counts as absent, as putExtras drops it.
func renameGlamExtras(extras map[string]json.RawMessage) {
	for _, g := range glamExtras {
		if hasExtra(extras, g.attr) {
			continue
		}
		for _, name := range g.extras {
			if hasExtra(extras, name) {
				extras[g.attr] = extras[name]
				delete(extras, name)
				break
			}
		}
	}
}

func hasExtra(extras map[string]json.RawMessage, name string) bool {
	raw, ok := extras[name]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// putExtras adds an event's extras as attributes, typed as sent (Glean.js
// sends strings; newer SDKs also numbers and booleans). The
// glean_timestamp extra is left out: it becomes the event time.
func putExtras(m pcommon.Map, extras map[string]json.RawMessage) bool {
	m.EnsureCapacity(len(extras) + 4)
	for k, raw := range extras {
		if k == gleanTimestampExtra {
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return false
		}
		switch v := v.(type) {
		case nil:
		case string:
			m.PutStr(k, v)
		case bool:
			m.PutBool(k, v)
		case json.Number:
			if n, err := v.Int64(); err == nil {
				m.PutInt(k, n)
			} else if f, err := v.Float64(); err == nil {
				m.PutDouble(k, f)
			} else {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func putIfAbsent(m pcommon.Map, key, value string) {
	if value == "" {
		return
	}
	// One lookup: PutStr after Get would look the key up again.
	if slot, existed := m.GetOrPutEmpty(key); !existed {
		slot.SetStr(value)
	}
}
