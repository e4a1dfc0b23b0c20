package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/consumer/consumererror"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// retryAfterSeconds is what 429 and 503 answers ask clients to wait. The
// OTel JS SDK honours it; a second is enough for a memory limiter or a
// queue to drain a little without holding browser batches long.
const retryAfterSeconds = 1

// rpcCodes gives the google.rpc.Status code that goes with an HTTP status,
// as OTLP/HTTP error bodies carry one.
var rpcCodes = map[int]codes.Code{
	http.StatusBadRequest:            codes.InvalidArgument,
	http.StatusUnauthorized:          codes.Unauthenticated,
	http.StatusForbidden:             codes.PermissionDenied,
	http.StatusNotFound:              codes.NotFound,
	http.StatusMethodNotAllowed:      codes.Unimplemented,
	http.StatusRequestEntityTooLarge: codes.InvalidArgument,
	http.StatusUnsupportedMediaType:  codes.InvalidArgument,
	http.StatusTooManyRequests:       codes.ResourceExhausted,
	http.StatusServiceUnavailable:    codes.Unavailable,
}

// writeStatus answers an error with a google.rpc.Status in the request's
// encoding, as the OTLP/HTTP specification asks, and tells clients when to
// retry a retryable one.
func writeStatus(w http.ResponseWriter, enc encoding, httpStatus int, message string) {
	code, ok := rpcCodes[httpStatus]
	if !ok {
		code = codes.Unknown
	}
	var body []byte
	if enc == encProto {
		// Marshalling a Status with a string and an int cannot fail.
		body, _ = proto.Marshal(&rpcstatus.Status{Code: int32(code), Message: message})
	} else {
		body, _ = json.Marshal(struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}{int32(code), message})
	}
	if httpStatus == http.StatusTooManyRequests || httpStatus == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	writeBody(w, enc, httpStatus, body)
}

// writeServerError answers the errors confighttp raises before the request
// reaches the receiver (bad Content-Encoding, failed authentication).
func writeServerError(w http.ResponseWriter, req *http.Request, message string, httpStatus int) {
	writeStatus(w, responseEncoding(req), httpStatus, message)
}

func writeBody(w http.ResponseWriter, enc encoding, httpStatus int, body []byte) {
	if enc == encProto {
		w.Header().Set("Content-Type", mediaProto)
	} else {
		w.Header().Set("Content-Type", mediaJSON)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// otlpResponse is what the ptraceotlp, plogotlp and pmetricotlp export
// responses have in common.
type otlpResponse interface {
	MarshalJSON() ([]byte, error)
	MarshalProto() ([]byte, error)
}

func writeOTLPResponse(w http.ResponseWriter, enc encoding, resp otlpResponse) {
	var body []byte
	var err error
	if enc == encProto {
		body, err = resp.MarshalProto()
	} else {
		body, err = resp.MarshalJSON()
	}
	if err != nil {
		writeStatus(w, enc, http.StatusInternalServerError, "encoding response: "+err.Error())
		return
	}
	writeBody(w, enc, http.StatusOK, body)
}

// memoryLimiterRefusal is the text of memorylimiter.ErrDataRefused, which
// lives in an internal package and so can only be recognised by its text.
const memoryLimiterRefusal = "data refused due to high memory usage"

// consumerErrorStatus maps a pipeline's error to the answer a client should
// act on. Backpressure is never a 500: a retryable refusal is 503 (429 when
// the memory limiter refused) so clients retry; a permanent error is the
// data's fault, 400, so clients drop it.
func consumerErrorStatus(err error) int {
	switch {
	case consumererror.IsPermanent(err):
		return http.StatusBadRequest
	case strings.Contains(err.Error(), memoryLimiterRefusal):
		return http.StatusTooManyRequests
	case consumererror.ToHTTPStatus(err) == http.StatusTooManyRequests:
		return http.StatusTooManyRequests
	default:
		return http.StatusServiceUnavailable
	}
}
