package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"net/http"
)

// otlpRequest is what the three OTLP export requests share for decoding.
type otlpRequest interface {
	UnmarshalJSON([]byte) error
	UnmarshalProto([]byte) error
}

// acceptOTLP accepts the request and decodes its body into m. When it
// returns false the answer (an error) has been written.
func (r *glamReceiver) acceptOTLP(w http.ResponseWriter, req *http.Request, ep endpoint, m otlpRequest, signal string) (*request, bool) {
	in, ok := r.accept(w, req, ep)
	if !ok || !decodeOTLP(w, in, ep, m, signal) {
		return nil, false
	}
	return in, true
}

// decodeOTLP checks the body of an accepted request (checkBody) and decodes
// it into m. When it returns false the answer (an error) has been written.
func decodeOTLP(w http.ResponseWriter, in *request, ep endpoint, m otlpRequest, signal string) bool {
	if err := checkBody(in.body, in.enc, ep.proto); err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, err.Error())
		return false
	}
	var err error
	if in.enc == encProto {
		err = m.UnmarshalProto(in.body)
	} else {
		err = m.UnmarshalJSON(in.body)
	}
	if err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, "decoding OTLP "+signal+": "+err.Error())
		return false
	}
	return true
}
