package heal_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hash-stream/hash-stream-aws/lib/heal"
)

// payload is a subscription delivery's data as CloudWatch Logs sends it:
// base64 of gzip of raw.
func payload(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func delivery(t *testing.T, typ string, messages ...string) []byte {
	t.Helper()
	d := events.CloudwatchLogsData{
		Owner: "123456789012", LogGroup: "/aws/lambda/gateway", LogStream: "2026/12/07/[$LATEST]abc",
		SubscriptionFilters: []string{"cuts"}, MessageType: typ,
	}
	for i, m := range messages {
		d.LogEvents = append(d.LogEvents, events.CloudwatchLogsLogEvent{ID: string(rune('a' + i)), Timestamp: 1765100000000, Message: m})
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeLogs(t *testing.T) {
	lines := []string{cutLine("/ipfs/" + leafCID), `{"msg":"request"}`}
	d, err := heal.DecodeLogs(payload(t, delivery(t, heal.MessageData, lines...)))
	if err != nil {
		t.Fatal(err)
	}
	if d.LogGroup != "/aws/lambda/gateway" || !reflect.DeepEqual(heal.Messages(d), lines) {
		t.Fatalf("decoded %+v", d)
	}
	// The same as aws-lambda-go's own (unbounded) decoder.
	ref, err := events.CloudwatchLogsRawData{Data: payload(t, delivery(t, heal.MessageData, lines...))}.Parse()
	if err != nil || !reflect.DeepEqual(ref, d) {
		t.Fatalf("aws-lambda-go decodes %+v, %v", ref, err)
	}
	// The control message CloudWatch Logs sends to a new destination holds
	// no lines to heal.
	d, err = heal.DecodeLogs(payload(t, delivery(t, heal.MessageControl, "CWL CONTROL MESSAGE: Checking health of destination Lambda function.")))
	if err != nil || len(heal.Messages(d)) != 0 {
		t.Fatalf("control message: %v, %q", err, heal.Messages(d))
	}
}

func TestDecodeLogsBounded(t *testing.T) {
	bomb := payload(t, make([]byte, heal.MaxDecodedBytes+1)) // zeros: a small payload
	if len(bomb) > heal.MaxPayloadBytes {
		t.Fatalf("the test's bomb is %d bytes", len(bomb))
	}
	var notGzip bytes.Buffer
	notGzip.WriteString("plain text, not gzip")
	for name, data := range map[string]string{
		"empty":          "",
		"not base64":     "***",
		"not gzip":       base64.StdEncoding.EncodeToString(notGzip.Bytes()),
		"truncated gzip": payload(t, delivery(t, heal.MessageData, "x"))[:20],
		"not json":       payload(t, []byte("not json")),
		"json array":     payload(t, []byte("[1,2]")),
		"too deep":       payload(t, []byte(strings.Repeat("[", 20000))),
		"gzip bomb":      bomb,
		"too large":      strings.Repeat("A", heal.MaxPayloadBytes+4),
	} {
		if _, err := heal.DecodeLogs(data); !errors.Is(err, heal.ErrPayload) {
			t.Errorf("%s: %v, want ErrPayload", name, err)
		}
	}
}

func FuzzDecodeLogs(f *testing.F) {
	f.Add([]byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"{\"msg\":\"response aborted\",\"path\":\"/ipfs/` + leafCID + `\"}"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		d, err := heal.DecodeLogs(base64.StdEncoding.EncodeToString(b.Bytes()))
		if err != nil {
			return
		}
		// Whatever decodes, Handle takes without panicking and without
		// an invalidation wider than one CID.
		h := heal.New(invalidatorFunc(func(paths []string) {
			for _, p := range paths {
				if !strings.HasPrefix(p, "/ipfs/") || len(p) < len("/ipfs/")+8 || len(p) > heal.MaxPathBytes {
					t.Fatalf("invalidation path %q", p)
				}
			}
		}))
		h.Handle(t.Context(), heal.Messages(d))
	})
}

// invalidatorFunc is a heal.Invalidator that hands the paths to a func.
type invalidatorFunc func(paths []string)

func (f invalidatorFunc) Invalidate(_ context.Context, paths []string) (string, error) {
	f(paths)
	return "I1", nil
}
