package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import "strings"

// originList decides whether a beacon's Origin is allowed, matching
// cors::allowed_origins the way the CORS handler does: "*" allows every
// origin, one "*" inside an entry matches any text there
// ("https://*.example.com"), anything else must match exactly, ignoring case.
type originList struct {
	any       bool
	exact     map[string]bool
	wildcards []wildcardOrigin
}

type wildcardOrigin struct{ prefix, suffix string }

func newOriginList(origins []string) originList {
	l := originList{exact: map[string]bool{}}
	for _, o := range origins {
		o = strings.ToLower(o)
		switch i := strings.IndexByte(o, '*'); {
		case o == "*":
			l.any = true
		case i >= 0:
			l.wildcards = append(l.wildcards, wildcardOrigin{prefix: o[:i], suffix: o[i+1:]})
		default:
			l.exact[o] = true
		}
	}
	return l
}

func (l originList) allows(origin string) bool {
	if origin == "" {
		return false
	}
	if l.any {
		return true
	}
	origin = strings.ToLower(origin)
	if l.exact[origin] {
		return true
	}
	for _, w := range l.wildcards {
		if len(origin) >= len(w.prefix)+len(w.suffix) && strings.HasPrefix(origin, w.prefix) && strings.HasSuffix(origin, w.suffix) {
			return true
		}
	}
	return false
}
