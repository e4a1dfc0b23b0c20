package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"go.opentelemetry.io/collector/receiver"

	"github.com/mozilla/otelcol-glam/internal/sharedcomponent"
)

// receivers lets the traces, logs and metrics receivers created for one
// component ID share one glamReceiver, hence one HTTP server and one set of
// event ids: the collector hands every signal of one ID the same *Config.
// Its telemetry goes with the receiver's last component.
var receivers = sharedcomponent.NewMap[*Config, *glamReceiver](func(r *glamReceiver) { r.telemetry.Shutdown() })

// sharedComponent is what the factory returns for each signal.
type sharedComponent = sharedcomponent.Component[*Config, *glamReceiver]

// attach returns a component for one signal of cfg's receiver, creating the
// receiver on first use; connect wires the signal's consumer.
func attach(set receiver.Settings, cfg *Config, connect func(*glamReceiver)) (*sharedComponent, error) {
	c, err := receivers.LoadOrStore(cfg, func() (*glamReceiver, error) { return newGlamReceiver(set, cfg) })
	if err != nil {
		return nil, err
	}
	connect(c.Unwrap())
	return c, nil
}
