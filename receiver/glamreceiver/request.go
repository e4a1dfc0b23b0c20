package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"
	"unicode/utf8"
)

// encoding is how a request body (and so its response) is encoded.
type encoding uint8

const (
	encJSON encoding = iota
	encProto
)

func (e encoding) String() string {
	if e == encProto {
		return "protobuf"
	}
	return "json"
}

const (
	mediaJSON  = "application/json"
	mediaProto = "application/x-protobuf"
	// mediaText is what navigator.sendBeacon sends for a string body.
	mediaText = "text/plain"
)

// request is a POST that passed the checks every endpoint shares.
type request struct {
	enc      encoding
	received time.Time
	body     []byte
	// family is the coarse browser family of the User-Agent header, which
	// itself is never stored.
	family string
}

// endpoint is what the shared checks need to know of an endpoint.
type endpoint struct {
	// proto is the message a protobuf body holds; nil when the endpoint
	// takes JSON only.
	proto *protoMsg
	// empty writes the endpoint's success answer for a request dropped
	// under Do Not Track.
	empty func(http.ResponseWriter, encoding)
}

// accept checks what every endpoint checks — method, media type, the
// origin of beacon bodies, Do Not Track, size — and reads the body, which
// the endpoint's decoder then checks (checkBody, unless it decodes only
// bodies that pass it). When it returns false the response has been
// written.
func (r *glamReceiver) accept(w http.ResponseWriter, req *http.Request, ep endpoint) (*request, bool) {
	allowProto := ep.proto != nil
	received := time.Now()
	enc := responseEncoding(req)
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeStatus(w, enc, http.StatusMethodNotAllowed, req.Method+" is not allowed; use POST")
		return nil, false
	}
	mediaType, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch {
	case err != nil:
		writeStatus(w, encJSON, http.StatusUnsupportedMediaType, "missing or malformed Content-Type; use "+mediaTypes(allowProto))
		return nil, false
	case mediaType == mediaJSON:
	case mediaType == mediaProto && allowProto:
	case mediaType == mediaText:
		if !r.origins.allows(req.Header.Get("Origin")) {
			writeStatus(w, encJSON, http.StatusForbidden, "text/plain bodies are accepted only from an origin listed in cors::allowed_origins")
			return nil, false
		}
	default:
		writeStatus(w, encJSON, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q; use %s", mediaType, mediaTypes(allowProto)))
		return nil, false
	}
	if r.cfg.RespectDoNotTrack && (req.Header.Get("DNT") == "1" || req.Header.Get("Sec-GPC") == "1") {
		r.telemetry.ReceiverGlamDoNotTrackRequests.Add(req.Context(), 1)
		ep.empty(w, enc)
		return nil, false
	}
	body, err := readBody(req)
	if err != nil {
		if maxErr, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeStatus(w, enc, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than max_request_body_size (%d bytes)", maxErr.Limit))
			return nil, false
		}
		writeStatus(w, enc, http.StatusBadRequest, "reading request body: "+err.Error())
		return nil, false
	}
	return &request{enc: enc, received: received, body: body, family: browserFamily(req.Header.Get("User-Agent"))}, true
}

// checkBody refuses bodies that would make decoding costly or let text
// the stores cannot hold through: nesting beyond the limits, JSON that is
// not UTF-8.
func checkBody(body []byte, enc encoding, proto *protoMsg) error {
	if err := checkNesting(body, enc, proto); err != nil {
		return err
	}
	if enc == encJSON && !utf8.Valid(body) {
		return errors.New("request body is not valid UTF-8")
	}
	return nil
}

func mediaTypes(allowProto bool) string {
	if allowProto {
		return mediaJSON + " or " + mediaProto
	}
	return mediaJSON
}

// responseEncoding answers in the request's encoding: protobuf for a
// protobuf body, JSON for everything else (beacons included).
func responseEncoding(req *http.Request) encoding {
	if mediaType, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err == nil && mediaType == mediaProto {
		return encProto
	}
	return encJSON
}

// readBody reads the whole body. confighttp has already wrapped it in the
// max_request_body_size limit (after decompression), so an oversized body
// fails here with *http.MaxBytesError.
func readBody(req *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	// ReadFrom wants MinRead bytes free before each read, the one that
	// finds the end too: less would copy the whole body once more.
	if n := req.ContentLength; n > 0 && n <= 1<<20 {
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(req.Body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
