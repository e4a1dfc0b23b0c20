package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/collector/confmap"
)

// ReleaseDate is a release the dashboard marks on a probe's chart, so that
// a change in browsing can be read against it.
type ReleaseDate struct {
	// Date is the UTC day of the release, YYYY-MM-DD.
	Date string `mapstructure:"date" json:"date"`
	// Name is the label on the chart (e.g. "Firefox 126").
	Name string `mapstructure:"name" json:"name"`
	// Product limits the mark to one product's probes (a glam.product
	// value: firefox, fenix, fog); empty marks every product's.
	Product string `mapstructure:"product" json:"product,omitempty"`
}

var _ confmap.Unmarshaler = (*ReleaseDate)(nil)

// Unmarshal reads a release date. YAML reads an unquoted 2024-05-14 as a
// timestamp: a midnight is kept as the day it is; any other time as its
// RFC 3339 text, which Validate refuses.
func (r *ReleaseDate) Unmarshal(conf *confmap.Conf) error {
	if t, ok := conf.Get("date").(time.Time); ok {
		m := conf.ToStringMap()
		if t.Equal(t.Truncate(24 * time.Hour)) {
			m["date"] = t.UTC().Format(dateLayout)
		} else {
			m["date"] = t.Format(time.RFC3339)
		}
		conf = confmap.NewFromStringMap(m)
	}
	return conf.Unmarshal(r)
}

// maxReleaseName keeps labels short enough to stay readable on a chart.
const maxReleaseName = 60

func validateReleaseDates(dates []ReleaseDate) error {
	var errs []error
	seen := map[ReleaseDate]bool{}
	for i, r := range dates {
		at := fmt.Sprintf("release_dates[%d]", i)
		if _, err := time.Parse(dateLayout, r.Date); err != nil {
			errs = append(errs, fmt.Errorf("%s: date %q is not a day: write YYYY-MM-DD (2024-05-14)", at, r.Date))
		}
		switch {
		case r.Name == "":
			errs = append(errs, fmt.Errorf("%s: name must be set (the label on the chart)", at))
		case len(r.Name) > maxReleaseName:
			errs = append(errs, fmt.Errorf("%s: name is %d bytes long, more than %d", at, len(r.Name), maxReleaseName))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("%s: %s %q is listed twice", at, r.Date, r.Name))
		}
		seen[r] = true
	}
	return errors.Join(errs...)
}

type releasesBody struct {
	Releases []ReleaseDate `json:"releases"`
}

// releases answers the configured release dates in date order: those of
// product (and of every product) when it is given, those from from to to
// when they are.
func (a *api) releases(_ context.Context, _ *http.Request, p *params) (any, error) {
	product := p.get("product")
	var bounds [2]time.Time
	for i, name := range []string{"from", "to"} {
		if v := p.get(name); v != "" {
			t, err := parseTime(name, v, i == 1)
			if err != nil {
				return nil, err
			}
			bounds[i] = t
		}
	}
	out := releasesBody{Releases: []ReleaseDate{}}
	for _, r := range a.cfg.ReleaseDates {
		day, _ := time.Parse(dateLayout, r.Date) // checked by Validate
		switch {
		case product != "" && r.Product != "" && r.Product != product:
		case !bounds[0].IsZero() && day.Before(bounds[0]):
		case !bounds[1].IsZero() && !day.Before(bounds[1]):
		default:
			out.Releases = append(out.Releases, r)
		}
	}
	slices.SortStableFunc(out.Releases, func(x, y ReleaseDate) int {
		return cmp.Or(cmp.Compare(x.Date, y.Date), cmp.Compare(x.Product, y.Product), cmp.Compare(x.Name, y.Name))
	})
	return out, nil
}
