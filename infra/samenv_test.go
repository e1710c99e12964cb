package main

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/samenv"
)

// The env-vars file `make sam-env` writes for a synthesized template: keyed
// by the function's logical ID, with every variable the template declares
// and nothing else (SAM ignores undeclared ones).
func TestSAMEnvFromTemplate(t *testing.T) {
	for _, tc := range []struct {
		ctx map[string]string
		set map[string]string // for the variables the template sets from a reference
	}{
		{map[string]string{"architecture": "x86_64"}, map[string]string{
			EnvIndexBucket: "local-index", EnvPackBucket: "local-packs", EnvDenylist: "s3://local-lists/denylist/",
		}},
		{map[string]string{"indexBucketName": "my-index", "packBucketName": "my-packs", "indexPrefix": "i/", "packPrefix": "p/",
			"metricsNamespace": "HashStream", "accessLogs": "false"}, map[string]string{EnvDenylist: "s3://local-lists/denylist/"}},
	} {
		s := synth(t, tc.ctx, "")
		id, fn := s.gatewayFunction(t)
		declared := props(fn)["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})
		tmpl, err := json.Marshal(s.json)
		if err != nil {
			t.Fatal(err)
		}
		gotID, env, err := samenv.Generate(tmpl, samenv.DefaultFunctionPrefix, tc.set)
		if err != nil {
			t.Fatalf("%v: %v", tc.ctx, err)
		}
		if gotID != id || len(env) != 1 || env[id] == nil {
			t.Fatalf("%v: env-vars keyed %v, want only the function %s", tc.ctx, sortedKeys(env), id)
		}
		var want []string
		for k := range declared {
			want = append(want, k)
		}
		sort.Strings(want)
		if got := sortedKeys(env[id]); !reflect.DeepEqual(got, want) {
			t.Errorf("%v: variables %v, want exactly the declared %v", tc.ctx, got, want)
		}
		for k, v := range env[id] {
			if lit, ok := declared[k].(string); ok && tc.set[k] == "" && v != lit {
				t.Errorf("%v: %s=%q, want the template's %q", tc.ctx, k, v, lit)
			}
			if set, ok := tc.set[k]; ok && v != set {
				t.Errorf("%v: %s=%q, want %q", tc.ctx, k, v, set)
			}
		}
		if tc.set == nil {
			// Imported buckets are literal names: nothing left to give.
			for _, k := range []string{EnvIndexBucket, EnvPackBucket, EnvIndexPrefix, EnvPackPrefix, EnvEMF} {
				if env[id][k] == "" {
					t.Errorf("%v: %s empty", tc.ctx, k)
				}
			}
		} else if _, _, err := samenv.Generate(tmpl, samenv.DefaultFunctionPrefix, nil); err == nil {
			t.Errorf("%v: created buckets (references) with no value given: no error", tc.ctx)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
