package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import "github.com/mozilla/otelcol-glam/internal/usage"

// defaultPages are GLAM's routes as its router (src/routing/Router.svelte)
// declares them, /:product/:section/:probeName/(explore|table) with section
// "probe", and the dimensions its query string carries. GLAM leaves a
// dimension out of the query string while it has its default value
// (stripDefaultValues), so each product's defaults (src/config/*.js) fill
// in what a URL leaves out. Glean products (fenix, fog) name their channel
// app_id and have a ping type where Firefox desktop has a process, as in
// GLAM's own API and tables.
func defaultPages() PagesConfig {
	probe := map[string]string{"product": usage.AttrProduct, "probe": usage.AttrProbeName, "view": usage.AttrView}
	const view = "/probe/:probe/:view(explore|table)"
	gleanQuery := map[string]string{
		"app_id": usage.AttrChannel, "ping_type": usage.AttrPingType, "os": usage.AttrOS,
		"aggregationLevel": usage.AttrAggregationLevel,
	}
	gleanDefaults := func(os string) map[string]string {
		return map[string]string{usage.AttrChannel: "nightly", usage.AttrPingType: "*", usage.AttrOS: os, usage.AttrAggregationLevel: "build_id"}
	}
	return PagesConfig{
		LoadEvents:         []string{usage.EventGleanPageLoad, usage.EventDocumentLoad, usage.EventPageView},
		PageViewEvent:      usage.EventPageView,
		URLAttributes:      []string{"url", "url.full", "http.url"},
		ReferrerAttributes: []string{"referrer"},
		MaxURLLength:       512,
		MaxTitleLength:     200,
		Routes: []RouteConfig{
			{
				Path: "/:product(firefox)" + view, Event: usage.EventProbeView, Segments: probe,
				Query: map[string]string{
					"channel": usage.AttrChannel, "process": usage.AttrProbeProcess, "os": usage.AttrOS,
					"aggregationLevel": usage.AttrAggregationLevel,
				},
				Defaults: map[string]string{usage.AttrChannel: "nightly", usage.AttrProbeProcess: "content", usage.AttrOS: "*", usage.AttrAggregationLevel: "build_id"},
			},
			{Path: "/:product(fenix)" + view, Event: usage.EventProbeView, Segments: probe, Query: gleanQuery, Defaults: gleanDefaults("Android")},
			{Path: "/:product(fog)" + view, Event: usage.EventProbeView, Segments: probe, Query: gleanQuery, Defaults: gleanDefaults("*")},
		},
	}
}

// defaultClicks: Glean.js's automatic click event, whose id extra is the
// element's data-glean-id (view-sql-query, toggle-…, export-json).
func defaultClicks() ClicksConfig {
	return ClicksConfig{Events: []string{usage.EventGleanElementClick}, ActionAttribute: "id"}
}
