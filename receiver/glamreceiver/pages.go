package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// pages remembers what recent page URLs read as (pageRead): browsers
	// send the same few pages over and over (a batch of spans is often all
	// from one page), and reading one — parse, route, query, rewrite — costs
	// more than the rest of the event.
	pages pageCache
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
	query  map[string]string
	params []string
	// defaultAttrs lists the defaults' attributes sorted, so that a page
	// reads the same every time.
	defaults     map[string]string
	defaultAttrs []string
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
	if len(r.segments) > maxSegments {
		return r, fmt.Errorf("path %q has %d segments, at most %d are supported", rc.Path, len(r.segments), maxSegments)
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
		r.defaultAttrs = append(r.defaultAttrs, attr)
	}
	slices.Sort(r.defaultAttrs)
	return r, nil
}

// maxSegments bounds a route template's segments, so that matching needs
// no allocation (GLAM's deepest route has four).
const maxSegments = 16

// match reports whether path matches the route and, when it does, stores
// its segments, unescaped, in values (values[i] is segment i's; literals
// included). It runs for every page load: it splits nothing and allocates
// only to unescape a segment that holds an escape.
func (r *route) match(path string, values *[maxSegments]string) bool {
	path = strings.Trim(path, "/")
	if len(r.segments) == 0 {
		return path == ""
	}
	for i := range r.segments {
		part, rest, more := strings.Cut(path, "/")
		if more != (i < len(r.segments)-1) {
			return false
		}
		path = rest
		if strings.IndexByte(part, '%') >= 0 {
			var err error
			if part, err = url.PathUnescape(part); err != nil {
				return false
			}
		}
		seg := &r.segments[i]
		switch {
		case part == "":
			return false
		case seg.literal != "":
			if part != seg.literal {
				return false
			}
		case len(seg.choices) > 0 && !slices.Contains(seg.choices, part):
			return false
		}
		values[i] = part
	}
	return true
}

// apply rewrites the usage event just written to lr in GLAM's terms: its
// URLs reduced to GLAM's route and state, the dimensions they carry set as
// attributes (an attribute the client set itself wins), a page load named
// after the route it hit, a click given its action. It runs for every event:
// each URL is parsed once, its query string at most once.
func (p *pageRules) apply(lr plog.LogRecord) {
	attrs := lr.Attributes()
	var page *pageRead
	for _, key := range p.urlAttrs {
		v, ok := attrs.Get(key)
		if !ok {
			continue
		}
		raw := v.AsString()
		if page == nil {
			if page = p.read(raw); page != nil {
				v.SetStr(page.url)
				continue
			}
			attrs.Remove(key)
			continue
		}
		// Another URL beside the page's: stored as the page's route
		// would store it.
		if u := parsePageURL(raw); u != nil {
			v.SetStr(p.rewriteURL(u, page.hit))
		} else {
			attrs.Remove(key)
		}
	}
	for _, key := range p.referrerAttrs {
		if v, ok := attrs.Get(key); ok {
			p.rewriteReferrer(attrs, key, v.AsString(), page)
		}
	}
	if v, ok := attrs.Get(attrTitle); ok && v.Type() == pcommon.ValueTypeStr {
		v.SetStr(truncate(v.Str(), p.maxTitle))
	}
	if page != nil && page.hit != nil {
		for _, d := range page.dims {
			putIfAbsent(attrs, d.attr, d.value)
		}
		putIfAbsent(attrs, usage.AttrRoute, page.hit.template)
	}
	name := lr.EventName()
	switch {
	case p.loadEvents[name]:
		event := p.pageViewEvent
		if page != nil && page.hit != nil {
			event = page.hit.event
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

// pageURL is a page URL (an absolute http(s) URL or an absolute path) as
// the rules read it.
type pageURL struct {
	*url.URL
	query url.Values // parsed on first use
}

func (u *pageURL) param(name string) string {
	if u.RawQuery == "" {
		return ""
	}
	if u.query == nil {
		u.query = u.Query()
	}
	return u.query.Get(name)
}

// parsePageURL returns nil for what is not an absolute http(s) URL or an
// absolute path.
func parsePageURL(s string) *pageURL {
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
	return &pageURL{URL: u}
}

// route is the first route the page matches, or nil.
func (p *pageRules) route(u *pageURL) *route {
	for i := range p.routes {
		var values [maxSegments]string
		if r := &p.routes[i]; r.match(u.Path, &values) {
			return r
		}
	}
	return nil
}

// pageRead is what a page URL (or a referrer) reads as: the URL as stored,
// its host and origin (to tell a referrer on the same site, and what is kept
// of one on another), the route it hits (nil for none) and the dimensions
// that route carries.
type pageRead struct {
	url          string
	host, origin string
	hit          *route
	dims         []dimension
}

type dimension struct{ attr, value string }

// read is what raw reads as, nil when it is no page URL.
func (p *pageRules) read(raw string) *pageRead {
	if r, ok := p.pages.get(raw); ok {
		return r
	}
	var r *pageRead
	if u := parsePageURL(raw); u != nil {
		hit := p.route(u)
		r = &pageRead{url: p.rewriteURL(u, hit), host: u.Host, origin: origin(u.URL), hit: hit}
		if hit != nil {
			r.dims = dimensions(hit, u)
		}
	}
	p.pages.put(raw, r)
	return r
}

// dimensions are the dimensions the page's route carries, in the order an
// event's own attributes are checked against them (the first set wins):
// named segments, then mapped query parameters, then the route's defaults
// for what the URL leaves out (GLAM leaves a dimension out of its query
// string when it has its default value).
func dimensions(r *route, u *pageURL) []dimension {
	var values [maxSegments]string
	r.match(u.Path, &values)
	var dims []dimension
	add := func(attr, value string) {
		if value != "" {
			dims = append(dims, dimension{attr, value})
		}
	}
	for i, seg := range r.segments {
		if attr, ok := r.attrs[seg.name]; ok && seg.literal == "" {
			add(attr, truncate(values[i], maxAttrValue))
		}
	}
	for _, param := range r.params {
		add(r.query[param], truncate(u.param(param), maxAttrValue))
	}
	for _, attr := range r.defaultAttrs {
		add(attr, r.defaults[attr])
	}
	return dims
}

// pageCache is a bounded memo of page URLs read: when it holds
// maxCachedPages it starts over, which costs a few reads again and keeps
// memory bounded whatever URLs clients send. Safe for concurrent requests.
type pageCache struct {
	m    sync.Map // string → *pageRead (nil: not a page URL)
	size atomic.Int64
}

const (
	maxCachedPages = 4096
	// Longer URLs are read each time: they are rare, and an entry holds
	// its URL.
	maxCachedURL = 1024
)

func (c *pageCache) get(raw string) (*pageRead, bool) {
	v, ok := c.m.Load(raw)
	if !ok {
		return nil, false
	}
	return v.(*pageRead), true
}

func (c *pageCache) put(raw string, r *pageRead) {
	if len(raw) > maxCachedURL {
		return
	}
	if c.size.Add(1) > maxCachedPages {
		c.m.Clear()
		c.size.Store(1)
	}
	// The key is copied: raw may share the request body's memory.
	c.m.Store(strings.Clone(raw), r)
}

// rewriteURL is a URL stored as GLAM's route and state: origin and path,
// and only the query parameters its route maps (none off a route), no user
// info, no fragment, at most max_url_length bytes. (What does not parse as
// a URL is dropped, since nothing in it can be told safe.)
func (p *pageRules) rewriteURL(u *pageURL, hit *route) string {
	var b strings.Builder
	b.WriteString(origin(u.URL))
	b.WriteString(u.EscapedPath())
	if hit != nil {
		// As url.Values.Encode writes them: params is sorted.
		sep := byte('?')
		for _, param := range hit.params {
			if value := u.param(param); value != "" {
				b.WriteByte(sep)
				b.WriteString(url.QueryEscape(param))
				b.WriteByte('=')
				b.WriteString(url.QueryEscape(value))
				sep = '&'
			}
		}
	}
	return truncate(b.String(), p.maxURL)
}

// rewriteReferrer stores a referrer on the page's own site as rewriteURL
// stores a page URL; one from another site (or beside no page URL to tell)
// keeps only its origin: its path and query are another site's business (a
// search engine's query, say). An empty referrer (a typed-in address) stays
// empty.
func (p *pageRules) rewriteReferrer(attrs pcommon.Map, key, raw string, page *pageRead) {
	if strings.TrimSpace(raw) == "" {
		return
	}
	switch r := p.read(raw); {
	case r == nil:
		attrs.Remove(key)
	case page != nil && (r.host == "" || r.host == page.host):
		attrs.PutStr(key, r.url)
	case r.host == "":
		attrs.Remove(key)
	default:
		attrs.PutStr(key, truncate(r.origin, p.maxURL))
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
