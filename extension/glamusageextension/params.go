package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

const dateLayout = "2006-01-02"

// earliestTime and latestTime bound the times a range may name. Usage
// events start in 2000 (the receiver refuses older ones); the bounds leave
// room for answers that widen a range to whole hours, days or weeks
// without leaving the years JSON and Postgres both hold.
var (
	earliestTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	latestTime   = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTime reads RFC 3339 or YYYY-MM-DD (a UTC day). A day given as the
// end of a range includes that day: it ends at the next midnight.
func parseTime(name, v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.Parse(dateLayout, v); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	return time.Time{}, badRequest{fmt.Sprintf("%s=%q is not a time: send RFC 3339 (2024-05-01T12:00:00Z) or a date (2024-05-01)", name, v)}
}

// params reads a query string, remembering which parameters were used so
// that a misspelt one is refused instead of silently ignored.
type params struct {
	q    url.Values
	used []string
}

func newParams(u *url.URL) *params { return &params{q: u.Query()} }

func (p *params) get(name string) string {
	p.used = append(p.used, name)
	return strings.TrimSpace(p.q.Get(name))
}

// unknown returns an error naming the parameters nothing read.
func (p *params) unknown() error {
	var extra []string
	for k := range p.q {
		if !slices.Contains(p.used, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	known := slices.Clone(p.used)
	slices.Sort(known)
	return badRequest{fmt.Sprintf("unknown parameter %s: this endpoint takes %s", strings.Join(extra, ", "), strings.Join(slices.Compact(known), ", "))}
}

// timeRange reads from and to: to defaults to now, from to default_range
// before to; the range must be non-empty and at most max_range long.
func (a *api) timeRange(p *params) (usageapi.Range, error) {
	r := usageapi.Range{To: time.Now().UTC()}
	var err error
	if v := p.get("to"); v != "" {
		if r.To, err = parseTime("to", v, true); err != nil {
			return r, err
		}
	}
	r.From = r.To.Add(-a.cfg.DefaultRange)
	if v := p.get("from"); v != "" {
		if r.From, err = parseTime("from", v, false); err != nil {
			return r, err
		}
	}
	if !r.From.Before(r.To) {
		return r, badRequest{fmt.Sprintf("from (%s) must be before to (%s): send an earlier from or a later to", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))}
	}
	if r.From.Before(earliestTime) || r.To.After(latestTime) {
		return r, badRequest{fmt.Sprintf("from/to (%s to %s) must lie between %s and %s (from defaults to default_range before to)",
			r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), earliestTime.Format(dateLayout), latestTime.Format(dateLayout))}
	}
	if d := r.To.Sub(r.From); d > a.cfg.MaxRange {
		return r, badRequest{fmt.Sprintf("from/to span %s, more than max_range %s: send a shorter range", d, a.cfg.MaxRange)}
	}
	return r, nil
}

// intParam reads a positive integer at most maxV, def when absent.
func intParam(p *params, name string, def, maxV int) (int, error) {
	v := p.get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxV {
		return 0, badRequest{fmt.Sprintf("%s=%q: send a whole number from 1 to %d", name, v, maxV)}
	}
	return n, nil
}

// listParam reads a comma-separated list, also accepting the parameter
// repeated.
func listParam(p *params, name string) []string {
	p.get(name)
	var out []string
	for _, v := range p.q[name] {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}
