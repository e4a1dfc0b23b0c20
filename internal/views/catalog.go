package views // import "github.com/mozilla/otelcol-glam/internal/views"

import "go.opentelemetry.io/collector/component"

// Catalog is what the usage API (the glam_usage extension) learns in
// process from the components that make views: the measures glam_eventlog
// records (a runtime view must read one of them) and the views glam_views
// has from its config (which runtime views may not shadow nor delete).
// Components find it among the host's extensions when they start.
type Catalog interface {
	AddMeasures(names []string)
	AddConfigViews(defs []Definition)
}

// Catalogs returns the host's extensions that are catalogs.
func Catalogs(host component.Host) []Catalog {
	var out []Catalog
	if host == nil {
		return nil
	}
	for _, ext := range host.GetExtensions() {
		if c, ok := ext.(Catalog); ok {
			out = append(out, c)
		}
	}
	return out
}
