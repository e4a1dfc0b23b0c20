package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP attribute values nest without limit (arrays and maps of values), and
// pdata decodes protobuf recursively: a 20 MiB body of nested arrays
// overflows the goroutine stack, which kills the process rather than
// panicking. Bodies are therefore checked for depth before decoding. The
// limits leave room for about 30 levels of nested values below the
// deepest OTLP structure (an exemplar's attributes).
const (
	maxJSONDepth  = 128 // brackets
	maxProtoDepth = 100 // messages
)

var errTooDeep = errors.New("request body is nested too deeply")

// checkNesting rejects a body nested deeper than the limits. root is the
// OTLP request message a protobuf body holds.
func checkNesting(body []byte, enc encoding, root *protoMsg) error {
	if enc == encProto {
		if err := checkProtoNesting(body, root, 1); err != nil {
			if errors.Is(err, errTooDeep) {
				return fmt.Errorf("%w: more than %d nested messages", errTooDeep, maxProtoDepth)
			}
			return fmt.Errorf("malformed protobuf body: %w", err)
		}
		return nil
	}
	if depth := jsonDepth(body); depth > maxJSONDepth {
		return fmt.Errorf("%w: more than %d nested JSON objects and arrays", errTooDeep, maxJSONDepth)
	}
	return nil
}

// jsonDepth is the deepest bracket nesting of a JSON text, stopping once it
// passes maxJSONDepth. Brackets inside strings do not count. Malformed JSON
// is the decoder's business; this only has to bound its recursion.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > maxJSONDepth {
					return deepest
				}
			}
		case '}', ']':
			// A stray closing bracket must not bank depth for the opening
			// ones that follow it.
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}

// protoMsg lists, for one OTLP message type, the fields holding messages
// that can lead to an attribute value — the only way OTLP nests without
// bound. Other fields are skipped without being looked into.
type protoMsg struct {
	children map[protowire.Number]*protoMsg
}

func checkProtoNesting(b []byte, m *protoMsg, depth int) error {
	if depth > maxProtoDepth {
		return errTooDeep
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if child, ok := m.children[num]; ok && typ == protowire.BytesType {
			payload, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if err := checkProtoNesting(payload, child, depth+1); err != nil {
				return err
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

func newProtoMsg() *protoMsg { return &protoMsg{children: map[protowire.Number]*protoMsg{}} }

// The roots of the three OTLP export requests. Field numbers are those of
// opentelemetry-proto (1000 is the deprecated instrumentation_library_*
// field pdata still reads).
var (
	traceRequestMsg  = newProtoMsg()
	logsRequestMsg   = newProtoMsg()
	metricRequestMsg = newProtoMsg()
)

func init() {
	anyValue, arrayValue, kvList, keyValue := newProtoMsg(), newProtoMsg(), newProtoMsg(), newProtoMsg()
	anyValue.children[5] = arrayValue
	anyValue.children[6] = kvList
	arrayValue.children[1] = anyValue
	kvList.children[1] = keyValue
	keyValue.children[2] = anyValue

	withAttrs := func(field protowire.Number) *protoMsg {
		m := newProtoMsg()
		m.children[field] = keyValue
		return m
	}
	resource, scope := withAttrs(1), withAttrs(3)
	resourceOf := func(scoped *protoMsg) *protoMsg {
		m := newProtoMsg()
		m.children[1] = resource
		m.children[2] = scoped
		m.children[1000] = scoped
		return m
	}
	scopeOf := func(item *protoMsg) *protoMsg {
		m := newProtoMsg()
		m.children[1] = scope
		m.children[2] = item
		return m
	}

	span := withAttrs(9)
	span.children[11] = withAttrs(3) // events
	span.children[13] = withAttrs(4) // links
	traceRequestMsg.children[1] = resourceOf(scopeOf(span))

	logRecord := withAttrs(6)
	logRecord.children[5] = anyValue // body
	logsRequestMsg.children[1] = resourceOf(scopeOf(logRecord))

	exemplar := withAttrs(7)
	number := withAttrs(7)
	number.children[5] = exemplar
	histogram := withAttrs(9)
	histogram.children[8] = exemplar
	expHistogram := withAttrs(1)
	expHistogram.children[11] = exemplar
	summary := withAttrs(7)
	pointsOf := func(point *protoMsg) *protoMsg {
		m := newProtoMsg()
		m.children[1] = point
		return m
	}
	metric := withAttrs(12) // metadata
	metric.children[5] = pointsOf(number)
	metric.children[7] = pointsOf(number)
	metric.children[9] = pointsOf(histogram)
	metric.children[10] = pointsOf(expHistogram)
	metric.children[11] = pointsOf(summary)
	metricRequestMsg.children[1] = resourceOf(scopeOf(metric))
}
