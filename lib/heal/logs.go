package heal

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-lambda-go/events"
)

// Bounds on what one CloudWatch Logs delivery may make this package read.
// A delivery to Lambda is an asynchronous invocation, whose payload is at
// most 256 KB (Lambda quotas): MaxPayloadBytes leaves room, and
// MaxDecodedBytes bounds what a hostile payload inflates to.
const (
	MaxPayloadBytes = 1 << 20
	MaxDecodedBytes = 16 << 20
	// MaxLineBytes bounds one log line; a longer one is ignored. The
	// gateway's aborted lines are well under 4 KiB (it clips the path it
	// logs to 256 bytes).
	MaxLineBytes = 64 << 10
)

// Message types of a CloudWatch Logs subscription delivery: data, or the
// control message CloudWatch Logs sends when it checks the destination.
const (
	MessageData    = "DATA_MESSAGE"
	MessageControl = "CONTROL_MESSAGE"
)

// ErrPayload is the error of DecodeLogs for a payload it cannot read.
var ErrPayload = errors.New("heal: bad log delivery")

// DecodeLogs decodes the data of a CloudWatch Logs subscription delivery
// (events.CloudwatchLogsEvent.AWSLogs.Data: base64 of gzip of JSON), as
// events.CloudwatchLogsRawData.Parse does, within MaxPayloadBytes and
// MaxDecodedBytes.
func DecodeLogs(data string) (events.CloudwatchLogsData, error) {
	var d events.CloudwatchLogsData
	if len(data) > MaxPayloadBytes {
		return d, fmt.Errorf("%w: %d bytes of payload, more than %d", ErrPayload, len(data), MaxPayloadBytes)
	}
	zipped, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return d, fmt.Errorf("%w: base64: %v", ErrPayload, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		return d, fmt.Errorf("%w: gzip: %v", ErrPayload, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxDecodedBytes+1))
	if err != nil {
		return d, fmt.Errorf("%w: gzip: %v", ErrPayload, err)
	}
	if len(raw) > MaxDecodedBytes {
		return d, fmt.Errorf("%w: inflates to more than %d bytes", ErrPayload, MaxDecodedBytes)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("%w: json: %v", ErrPayload, err)
	}
	return d, nil
}

// Messages returns the log lines of a delivery: its events' messages, none
// for a control message.
func Messages(d events.CloudwatchLogsData) []string {
	if d.MessageType != MessageData {
		return nil
	}
	out := make([]string, 0, len(d.LogEvents))
	for _, e := range d.LogEvents {
		out = append(out, e.Message)
	}
	return out
}

// cut is what a line says of a cut response.
type cut struct {
	Msg  string  `json:"msg"`
	Path *string `json:"path"`
}

// parseCut returns the request path of a gateway line whose msg is
// AbortedMessage.
func parseCut(line string) (string, error) {
	if len(line) > MaxLineBytes {
		return "", fmt.Errorf("line of %d bytes, more than %d", len(line), MaxLineBytes)
	}
	var c cut
	if err := json.Unmarshal([]byte(line), &c); err != nil {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	if c.Msg != AbortedMessage {
		return "", fmt.Errorf("msg %.64q is not %q", c.Msg, AbortedMessage)
	}
	if c.Path == nil {
		return "", errors.New("no path")
	}
	return *c.Path, nil
}
