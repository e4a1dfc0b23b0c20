package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// GLAM's frontend sends no events of its own: only Glean.js's automatic
// page loads and element clicks (SPEC §8). Everything GLAM's usage questions
// need — which probe, product, channel, process — is in the page URL, so the
// receiver reads it there, through route templates, and turns a page load on
// a probe route into the probe view the views and the usage API count.

// pageRules are the compiled `pages` and `clicks` settings.
type pageRules struct {
	loadEvents    map[string]bool
	pageViewEvent string
	urlAttrs      []string
	referrerAttrs []string
	maxURL        int
	maxTitle      int
	routes        []route
	clickEvents   map[string]bool
	clickID       string
}

// route is one compiled route template.
type route struct {
	template string
	event    string
	segments []segment
	// attrs maps a named segment to the attribute it sets.
	attrs map[string]string
	// query maps a query parameter to the attribute it sets; params lists
	// the mapped parameters sorted, the order they are written back in.
	query    map[string]string
	params   []string
	defaults map[string]string
}

// segment is one path segment of a template: a literal, or a named segment
// that matches anything (choices empty) or one of choices.
type segment struct {
	literal string
	name    string
	choices []string
}

// maxAttrValue bounds a value taken from a URL (a probe name, a channel).
const maxAttrValue = 200

func compilePages(p PagesConfig, c ClicksConfig) (*pageRules, error) {
	var errs []error
	rules := &pageRules{
		loadEvents:    toSet(p.LoadEvents),
		pageViewEvent: p.PageViewEvent,
		urlAttrs:      p.URLAttributes,
		referrerAttrs: p.ReferrerAttributes,
		maxURL:        p.MaxURLLength,
		maxTitle:      p.MaxTitleLength,
		clickEvents:   toSet(c.Events),
		clickID:       c.ActionAttribute,
	}
	if len(p.LoadEvents) > 0 && strings.TrimSpace(p.PageViewEvent) == "" {
		errs = append(errs, errors.New("pages::page_view_event must not be empty when pages::load_events is set"))
	}
	if p.MaxURLLength < 16 {
		errs = append(errs, fmt.Errorf("pages::max_url_length must be at least 16, got %d", p.MaxURLLength))
	}
	if p.MaxTitleLength < 0 {
		errs = append(errs, fmt.Errorf("pages::max_title_length must not be negative, got %d", p.MaxTitleLength))
	}
	for i, a := range append(slices.Clone(p.URLAttributes), p.ReferrerAttributes...) {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, fmt.Errorf("pages: url_attributes and referrer_attributes must not hold an empty name (entry %d)", i))
		}
	}
	if len(c.Events) > 0 && strings.TrimSpace(c.ActionAttribute) == "" {
		errs = append(errs, errors.New("clicks::action_attribute must not be empty when clicks::events is set"))
	}
	for i, rc := range p.Routes {
		r, err := compileRoute(rc)
		if err != nil {
			errs = append(errs, fmt.Errorf("pages::routes[%d]: %w", i, err))
			continue
		}
		rules.routes = append(rules.routes, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

func toSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.TrimSpace(n)] = true
	}
	return set
}

// compileRoute reads a template in page.js's notation, the one GLAM's router
// is written in: literal segments, `:name` for any segment and
// `:name(a|b)` for one of a few.
func compileRoute(rc RouteConfig) (route, error) {
	r := route{
		template: rc.Path, event: strings.TrimSpace(rc.Event),
		attrs: rc.Segments, query: rc.Query, defaults: rc.Defaults,
	}
	if r.event == "" {
		return r, errors.New("event must name the event a page load on this route becomes")
	}
	if !strings.HasPrefix(rc.Path, "/") || rc.Path == "/" && len(rc.Segments) > 0 {
		return r, fmt.Errorf("path %q must start with '/'", rc.Path)
	}
	names := map[string]bool{}
	for _, part := range strings.Split(strings.Trim(rc.Path, "/"), "/") {
		if part == "" {
			if rc.Path == "/" {
				break
			}
			return r, fmt.Errorf("path %q has an empty segment", rc.Path)
		}
		if !strings.HasPrefix(part, ":") {
			r.segments = append(r.segments, segment{literal: part})
			continue
		}
		name, choices := part[1:], ""
		if open := strings.IndexByte(name, '('); open >= 0 {
			if !strings.HasSuffix(name, ")") {
				return r, fmt.Errorf("path %q: segment %q opens '(' without closing it at its end", rc.Path, part)
			}
			name, choices = name[:open], name[open+1:len(name)-1]
		}
		if name == "" || names[name] {
			return r, fmt.Errorf("path %q: segment names must be non-empty and distinct (%q)", rc.Path, part)
		}
		names[name] = true
		seg := segment{name: name}
		if choices != "" {
			seg.choices = strings.Split(choices, "|")
		}
		r.segments = append(r.segments, seg)
	}
	for name, attr := range rc.Segments {
		if !names[name] {
			return r, fmt.Errorf("segments: %q is not a named segment of %q", name, rc.Path)
		}
		if strings.TrimSpace(attr) == "" {
			return r, fmt.Errorf("segments: %q maps to an empty attribute name", name)
		}
	}
	for param, attr := range rc.Query {
		if param == "" || strings.TrimSpace(attr) == "" {
			return r, fmt.Errorf("query: %q: parameter and attribute names must not be empty", param)
		}
		r.params = append(r.params, param)
	}
	slices.Sort(r.params)
	for attr := range rc.Defaults {
		if strings.TrimSpace(attr) == "" {
			return r, errors.New("defaults: attribute names must not be empty")
		}
	}
	return r, nil
}

// match reports whether path matches the route and returns its named
// segments, unescaped.
func (r *route) match(path string) (map[string]string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(r.segments) == 0 {
		return nil, path == "/" || path == ""
	}
	if len(parts) != len(r.segments) {
		return nil, false
	}
	values := map[string]string{}
	for i, seg := range r.segments {
		part, err := url.PathUnescape(parts[i])
		if err != nil || part == "" {
			return nil, false
		}
		switch {
		case seg.literal != "":
			if part != seg.literal {
				return nil, false
			}
		case len(seg.choices) > 0 && !slices.Contains(seg.choices, part):
			return nil, false
		default:
			values[seg.name] = part
		}
	}
	return values, true
}

// apply rewrites the usage event just written to lr in GLAM's terms: its
// URLs reduced to GLAM's route and state, the dimensions they carry set as
// attributes (an attribute the client set itself wins), a page load named
// after the route it hit, a click given its action.
func (p *pageRules) apply(lr plog.LogRecord) {
	attrs := lr.Attributes()
	pageURL := p.pageURL(attrs)
	var hit *route
	var dims map[string]string
	if pageURL != nil {
		hit, dims = p.route(pageURL)
	}
	for _, key := range p.urlAttrs {
		if v, ok := attrs.Get(key); ok {
			p.rewriteURL(attrs, key, v.AsString(), hit)
		}
	}
	for _, key := range p.referrerAttrs {
		if v, ok := attrs.Get(key); ok {
			p.rewriteReferrer(attrs, key, v.AsString(), pageURL)
		}
	}
	if v, ok := attrs.Get(attrTitle); ok && v.Type() == pcommon.ValueTypeStr {
		v.SetStr(truncate(v.Str(), p.maxTitle))
	}
	if hit != nil {
		for attr, value := range dims {
			putIfAbsent(attrs, attr, value)
		}
		putIfAbsent(attrs, usage.AttrRoute, hit.template)
	}
	name := lr.EventName()
	switch {
	case p.loadEvents[name]:
		event := p.pageViewEvent
		if hit != nil {
			event = hit.event
		}
		if event != name {
			lr.SetEventName(event)
			attrs.PutStr(usage.AttrEventName, event)
			attrs.PutStr(usage.AttrClientEvent, name)
		}
	case p.clickEvents[name]:
		if v, ok := attrs.Get(p.clickID); ok {
			putIfAbsent(attrs, usage.AttrAction, truncate(v.AsString(), maxAttrValue))
		}
	}
}

// attrTitle is the page title Glean.js sends with page loads and clicks.
const attrTitle = "title"

// pageURL is the event's page URL: the first of url_attributes it carries
// that parses as an absolute http(s) URL or an absolute path.
func (p *pageRules) pageURL(attrs pcommon.Map) *url.URL {
	for _, key := range p.urlAttrs {
		if v, ok := attrs.Get(key); ok {
			if u := parsePageURL(v.AsString()); u != nil {
				return u
			}
		}
	}
	return nil
}

func parsePageURL(s string) *url.URL {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		if u.Host == "" {
			return nil
		}
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/"):
	default:
		return nil
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u
}

// route finds the first route the page matches and the dimensions it
// carries: named segments, mapped query parameters, then the route's
// defaults for what the URL leaves out (GLAM leaves a dimension out of its
// query string when it has its default value).
func (p *pageRules) route(u *url.URL) (*route, map[string]string) {
	for i := range p.routes {
		r := &p.routes[i]
		values, ok := r.match(u.Path)
		if !ok {
			continue
		}
		dims := map[string]string{}
		for name, value := range values {
			if attr, ok := r.attrs[name]; ok {
				dims[attr] = truncate(value, maxAttrValue)
			}
		}
		q := u.Query()
		for _, param := range r.params {
			if value := q.Get(param); value != "" {
				if _, set := dims[r.query[param]]; !set {
					dims[r.query[param]] = truncate(value, maxAttrValue)
				}
			}
		}
		for attr, value := range r.defaults {
			if _, set := dims[attr]; !set {
				dims[attr] = value
			}
		}
		return r, dims
	}
	return nil, nil
}

// rewriteURL stores a URL as GLAM's route and state: origin and path, and
// only the query parameters its route maps (none off a route), no user
// info, no fragment, at most max_url_length bytes. What does not parse as a
// URL is dropped, since nothing in it can be told safe.
func (p *pageRules) rewriteURL(attrs pcommon.Map, key, raw string, hit *route) {
	u := parsePageURL(raw)
	if u == nil {
		attrs.Remove(key)
		return
	}
	s := origin(u) + u.EscapedPath()
	if hit != nil {
		q := u.Query()
		kept := url.Values{}
		for _, param := range hit.params {
			if value := q.Get(param); value != "" {
				kept.Set(param, value)
			}
		}
		if len(kept) > 0 {
			s += "?" + kept.Encode()
		}
	}
	attrs.PutStr(key, truncate(s, p.maxURL))
}

// rewriteReferrer stores a referrer on the page's own site as rewriteURL
// stores a page URL; one from another site (or beside no page URL to tell)
// keeps only its origin: its path and query are another site's business (a
// search engine's query, say). An empty referrer (a typed-in address) stays
// empty.
func (p *pageRules) rewriteReferrer(attrs pcommon.Map, key, raw string, page *url.URL) {
	if strings.TrimSpace(raw) == "" {
		return
	}
	u := parsePageURL(raw)
	switch {
	case u == nil:
		attrs.Remove(key)
	case page != nil && (u.Host == "" || u.Host == page.Host):
		hit, _ := p.route(u)
		p.rewriteURL(attrs, key, raw, hit)
	case u.Host == "":
		attrs.Remove(key)
	default:
		attrs.PutStr(key, truncate(origin(u), p.maxURL))
	}
}

func origin(u *url.URL) string {
	if u.Scheme == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
