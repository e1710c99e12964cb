package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hash-stream/hash-stream-aws/internal/cdntest"
	"github.com/hash-stream/hash-stream-aws/lib/heal"
)

// event decodes a CloudWatch Logs subscription delivery as the runtime
// hands it to the handler.
func event(t *testing.T, raw []byte) events.CloudwatchLogsEvent {
	t.Helper()
	var ev events.CloudwatchLogsEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// deliveryOf is the invocation payload of a delivery of messages.
func deliveryOf(t *testing.T, typ string, messages ...string) []byte {
	t.Helper()
	d := events.CloudwatchLogsData{MessageType: typ, LogGroup: "/test/gateway", SubscriptionFilters: []string{"cuts"}}
	for _, m := range messages {
		d.LogEvents = append(d.LogEvents, events.CloudwatchLogsLogEvent{ID: "1", Timestamp: 1, Message: m})
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	ev, err := json.Marshal(map[string]any{"awslogs": map[string]string{"data": base64.StdEncoding.EncodeToString(b.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The function on a delivery as CloudWatch Logs sends it (testdata/cuts.json:
// two gateway lines of cut responses, gzip and base64 in the event's
// awslogs.data) invalidates both paths, in one invalidation, on the fake
// CloudFront API.
func TestHandler(t *testing.T) {
	_, cf, _, client := cdntest.Start(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := handler(newHealer(config{distribution: "EDIST", perHour: heal.DefaultHourlyLimit}, client, log), log)
	raw, err := os.ReadFile("testdata/cuts.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := h(context.Background(), event(t, raw)); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{
		"/ipfs/bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu*",
		"/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4*",
	}}
	if !reflect.DeepEqual(cf.Paths, want) {
		t.Fatalf("invalidations %q, want %q", cf.Paths, want)
	}
	if !strings.Contains(logs.String(), `"msg":"heal: delivery","log_group":"/aws/lambda/HashStreamGateway-GatewayLogGroup","lines":2,"cuts":2,"ignored":0,"invalidated":2,"dropped":0`) {
		t.Errorf("logs %s", logs.String())
	}

	// The control message of a new subscription: nothing to do.
	if err := h(context.Background(), event(t, deliveryOf(t, heal.MessageControl, "CWL CONTROL MESSAGE: Checking health of destination Lambda function."))); err != nil || len(cf.Paths) != 1 {
		t.Fatalf("control message: %v, %d invalidations", err, len(cf.Paths))
	}
	// Lines that are not cuts: nothing invalidated, no error.
	if err := h(context.Background(), event(t, deliveryOf(t, heal.MessageData, `{"msg":"request","path":"/ipfs/x"}`, "garbage"))); err != nil || len(cf.Paths) != 1 {
		t.Fatalf("no cuts: %v, %d invalidations", err, len(cf.Paths))
	}
	// A delivery that does not decode is an error (Lambda counts it and
	// tries again); nothing is invalidated.
	for _, raw := range []string{`{"awslogs":{"data":"not base64!"}}`, `{}`, `{"awslogs":{"data":"` + strings.Repeat("A", heal.MaxPayloadBytes+4) + `"}}`} {
		if err := h(context.Background(), event(t, []byte(raw))); !errors.Is(err, heal.ErrPayload) || len(cf.Paths) != 1 {
			t.Errorf("%.40s: %v, %d invalidations", raw, err, len(cf.Paths))
		}
	}
}
