package samenv

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const tmpl = `{"Resources":{
  "IndexBucket1234":{"Type":"AWS::S3::Bucket"},
  "LogRetentionABCD":{"Type":"AWS::Lambda::Function","Properties":{"Environment":{"Variables":{"OTHER":"x"}}}},
  "GatewayFunctionA7138035":{"Type":"AWS::Lambda::Function","Properties":{"Environment":{"Variables":{
    "HASH_STREAM_S3_INDEX_BUCKET":{"Ref":"IndexBucket1234"},
    "HASH_STREAM_S3_PACK_BUCKET":"my-packs",
    "HASH_STREAM_S3_INDEX_PREFIX":"",
    "HASH_STREAM_LOG_LEVEL":"info"}}}}}}`

func TestGenerate(t *testing.T) {
	id, env, err := Generate([]byte(tmpl), DefaultFunctionPrefix, map[string]string{
		"HASH_STREAM_S3_INDEX_BUCKET": "local-index", "HASH_STREAM_LOG_LEVEL": "debug",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{"GatewayFunctionA7138035": {
		"HASH_STREAM_S3_INDEX_BUCKET": "local-index", // set
		"HASH_STREAM_S3_PACK_BUCKET":  "my-packs",    // the template's literal
		"HASH_STREAM_S3_INDEX_PREFIX": "",
		"HASH_STREAM_LOG_LEVEL":       "debug",
	}}
	if id != "GatewayFunctionA7138035" || !reflect.DeepEqual(env, want) {
		t.Errorf("Generate = %s %v, want %v", id, env, want)
	}
}

func TestGenerateErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		tmpl, prefix string
		set          map[string]string
		want         []string
	}{
		"reference unset": {tmpl, DefaultFunctionPrefix, nil, []string{"HASH_STREAM_S3_INDEX_BUCKET from a reference"}},
		"undeclared set":  {tmpl, DefaultFunctionPrefix, map[string]string{"HASH_STREAM_S3_INDEX_BUCKET": "i", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:7070"}, []string{"AWS_ENDPOINT_URL_S3 is not declared", "issue 6145"}},
		"no function":     {`{"Resources":{}}`, DefaultFunctionPrefix, nil, []string{"no AWS::Lambda::Function"}},
		"two functions":   {tmpl, "", nil, []string{"2 functions", "GatewayFunctionA7138035, LogRetentionABCD"}},
		"not JSON":        {"Resources:", DefaultFunctionPrefix, nil, []string{"template"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Generate([]byte(tc.tmpl), tc.prefix, tc.set)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Generate: %v, want an error with %q", err, w)
				}
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tp, out := filepath.Join(dir, "t.json"), filepath.Join(dir, "sam", "env.json")
	if err := os.WriteFile(tp, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := Run([]string{"-template", tp, "-id"}, &stdout); err != nil || stdout.String() != "GatewayFunctionA7138035\n" {
		t.Errorf("-id: %q, %v", stdout.String(), err)
	}
	if err := Run([]string{"-template", tp, "-o", out, "HASH_STREAM_S3_INDEX_BUCKET=ix"}, &stdout); err != nil {
		t.Fatal(err)
	}
	var env map[string]map[string]string
	if b, err := os.ReadFile(out); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if len(env) != 1 || len(env["GatewayFunctionA7138035"]) != 4 || env["GatewayFunctionA7138035"]["HASH_STREAM_S3_INDEX_BUCKET"] != "ix" {
		t.Errorf("env.json = %v", env)
	}
	if err := Run([]string{"-template", tp, "-o", out, "novalue"}, &stdout); err == nil || !strings.Contains(err.Error(), "NAME=value") {
		t.Errorf("bad argument: %v", err)
	}
}
