package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// privateKey says whether an attribute carries a client address or a full
// user agent, under current and older semantic conventions and what browser
// SDKs set. Such attributes are removed from events, resources and
// passed-through telemetry alike: the receiver never stores them.
func privateKey(key string) bool {
	// A switch rather than a map: it runs for every attribute received,
	// and comparing by length first is cheaper than hashing the key.
	switch key {
	case "user_agent.original",
		"http.user_agent",
		"browser.user_agent",
		"user_agent",
		"useragent",
		"client.address",
		"client.ip",
		"client.socket.address",
		"http.client_ip",
		"net.peer.ip",
		"net.peer.name",
		"net.sock.peer.addr",
		"net.sock.peer.name",
		"network.peer.address",
		"source.address",
		"source.ip",
		"http.request.header.x-forwarded-for",
		"http.request.header.x-real-ip",
		"http.request.header.user-agent",
		"ip":
		return true
	}
	return false
}

func isPrivate(key string, _ pcommon.Value) bool {
	return privateKey(key)
}

// scrub removes the private attributes from m.
func scrub(m pcommon.Map) {
	m.RemoveIf(isPrivate)
}

// mergeEventAttributes adds an item's attributes to the record a usage
// event was just written to, minus the private ones, without letting them
// override the event's own fields (id, name, session, source) — nor a key
// repeated in src override its first value. Each key costs a scan of dst,
// which validation bounds to maxAttributes entries.
func mergeEventAttributes(dst, src pcommon.Map) {
	dst.EnsureCapacity(dst.Len() + src.Len())
	for k, v := range src.All() {
		if isPrivate(k, v) {
			continue
		}
		if slot, existed := dst.GetOrPutEmpty(k); !existed {
			v.CopyTo(slot)
		}
	}
}

// setBrowserFamily tags an event with the family of the browser that sent
// it, overriding whatever the client claimed.
// mergeDecoded is mergeEventAttributes for attributes decoded by jsonSpans.
func mergeDecoded(dst pcommon.Map, src []jsonKV) {
	dst.EnsureCapacity(dst.Len() + len(src))
	for _, kv := range src {
		if privateKey(kv.key) {
			continue
		}
		if slot, existed := dst.GetOrPutEmpty(kv.key); !existed {
			kv.setTo(slot)
		}
	}
}

// putKVs puts attributes decoded by jsonSpans into m, as sent; scrubbing is
// the writer's.
func putKVs(m pcommon.Map, kvs []jsonKV) {
	m.EnsureCapacity(len(kvs))
	for _, kv := range kvs {
		slot, _ := m.GetOrPutEmpty(kv.key)
		kv.setTo(slot)
	}
}

func setBrowserFamily(attrs pcommon.Map, family string) {
	if family != "" {
		attrs.PutStr(usage.AttrBrowserFamily, family)
	}
}

// browserFamily reduces a User-Agent header to a coarse family. The order
// matters: Edge and Opera say "Chrome", Chrome says "Safari".
func browserFamily(userAgent string) string {
	if userAgent == "" {
		return ""
	}
	ua := strings.ToLower(userAgent)
	for _, f := range browserFamilies {
		for _, token := range f.tokens {
			if strings.Contains(ua, token) {
				return f.family
			}
		}
	}
	return "Other"
}

// familyBot is the family of crawlers, monitors and headless browsers
// (GLAM's own tests among them), which count_bots says whether to count.
const familyBot = "Bot"

var browserFamilies = []struct {
	family string
	tokens []string
}{
	{familyBot, []string{"bot", "crawler", "spider", "headlesschrome", "lighthouse"}},
	{"Edge", []string{"edg/", "edga/", "edgios/", "edge/"}},
	{"Opera", []string{"opr/", "opera"}},
	{"Samsung Internet", []string{"samsungbrowser/"}},
	{"Firefox", []string{"firefox/", "fxios/"}},
	{"Chrome", []string{"chrome/", "crios/", "chromium/"}},
	{"Safari", []string{"safari/"}},
}
