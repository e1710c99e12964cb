package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// What a first `cdk deploy` in a new account or region depends on and
// synth can check: account-global names, region capabilities, quotas,
// guardrails (issue 22).

// accountGlobalTypes are the resource types whose names are unique in the
// account (or, for buckets, in the partition) rather than in a region, and
// where each one's name is set. infra/README.md ("Account-global names")
// lists them.
var accountGlobalTypes = map[string][]string{
	"AWS::CloudFront::CachePolicy":           {"CachePolicyConfig", "Name"},
	"AWS::CloudFront::ResponseHeadersPolicy": {"ResponseHeadersPolicyConfig", "Name"},
	"AWS::CloudFront::OriginRequestPolicy":   {"OriginRequestPolicyConfig", "Name"},
	"AWS::CloudFront::OriginAccessControl":   {"OriginAccessControlConfig", "Name"},
	"AWS::CloudFront::Function":              {"Name"},
	"AWS::CloudFront::KeyValueStore":         {"Name"},
	"AWS::CloudFront::VpcOrigin":             {"VpcOriginEndpointConfig", "Name"},
	"AWS::CloudFront::Distribution":          nil, // no name: CloudFront makes the ID
	"AWS::WAFv2::WebACL":                     {"Name"},
	"AWS::IAM::Role":                         {"RoleName"},
	"AWS::IAM::ManagedPolicy":                {"ManagedPolicyName"},
	"AWS::S3::Bucket":                        {"BucketName"},
	"AWS::CloudWatch::Dashboard":             {"DashboardName"},
}

func nameAt(r map[string]interface{}, path []string) (interface{}, bool) {
	var v interface{} = props(r)
	for _, k := range path {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// accountGlobalNames returns the names the template sets on account-global
// resources, by type and logical ID, and fails on a CloudFront type the
// table above does not classify.
func accountGlobalNames(t *testing.T, s *synthesized) map[string]interface{} {
	t.Helper()
	names := map[string]interface{}{}
	for id, r := range s.json["Resources"].(map[string]interface{}) {
		typ := r.(map[string]interface{})["Type"].(string)
		path, known := accountGlobalTypes[typ]
		if !known {
			if strings.HasPrefix(typ, "AWS::CloudFront::") {
				t.Errorf("%s (%s) is a CloudFront resource the account-global table does not classify", typ, id)
			}
			continue
		}
		if path == nil {
			continue
		}
		if v, ok := nameAt(r.(map[string]interface{}), path); ok {
			names[typ+" "+id] = v
		}
	}
	return names
}

// TestAccountGlobalNames synthesizes the same stack name in us-east-1 and
// eu-west-1 (what a second deployment of the app in another region is)
// and checks that no account-global name is the same in both: every name
// set holds its region, every other one is left to CloudFormation.
func TestAccountGlobalNames(t *testing.T) {
	regions := []string{"us-east-1", "eu-west-1"}
	for _, v := range []struct {
		name string
		ctx  func(t *testing.T) map[string]string
	}{
		{"lambda", func(*testing.T) map[string]string {
			return ingestCtx(map[string]string{"alarmEmail": "ops@example.org"})
		}},
		{"ecs", func(t *testing.T) map[string]string { return ecsCtx(t) }},
	} {
		t.Run(v.name, func(t *testing.T) {
			seen := map[string]string{} // name -> region and resource
			typesNamed := map[string]bool{}
			for _, region := range regions {
				s := synth(t, v.ctx(t), region)
				for res, name := range accountGlobalNames(t, s) {
					lit, ok := name.(string)
					if !ok {
						t.Errorf("%s in %s: name %s is not a literal once the region is known", res, region, canon(name))
						continue
					}
					if !strings.Contains(lit, region) {
						t.Errorf("%s in %s: name %q does not hold the region", res, region, lit)
					}
					if other, dup := seen[lit]; dup {
						t.Errorf("%s in %s has the name %q of %s: the second deploy fails with ...AlreadyExists", res, region, lit, other)
					}
					seen[lit] = region + " " + res
					typesNamed[strings.Fields(res)[0]] = true
				}
			}
			// The names this issue is about are set (and so checked above).
			want := []string{"AWS::CloudFront::CachePolicy", "AWS::CloudFront::ResponseHeadersPolicy",
				"AWS::CloudFront::OriginRequestPolicy", "AWS::CloudFront::Function"}
			if v.name == "lambda" {
				want = append(want, "AWS::CloudFront::OriginAccessControl")
			} else {
				want = append(want, "AWS::CloudFront::VpcOrigin")
			}
			for _, typ := range want {
				if !typesNamed[typ] {
					t.Errorf("no %s name found: the check above did not see it", typ)
				}
			}
		})
	}

	t.Run("no region: a reference to AWS::Region", func(t *testing.T) {
		s := synth(t, nil, "")
		for res, name := range accountGlobalNames(t, s) {
			if !strings.Contains(canon(name), `{"Ref":"AWS::Region"}`) {
				t.Errorf("%s: name %s does not end in the stack's region", res, canon(name))
			}
		}
	})

	t.Run("long stack names are cut, not equal", func(t *testing.T) {
		long := "Gateway" + strings.Repeat("x", 110)
		a := synth(t, map[string]string{"stackName": long + "A"}, "ap-southeast-2")
		b := synth(t, map[string]string{"stackName": long + "B"}, "ap-southeast-2")
		na, nb := accountGlobalNames(t, a), accountGlobalNames(t, b)
		limits := map[string]int{"AWS::CloudFront::OriginAccessControl": 64, "AWS::CloudFront::ResponseHeadersPolicy": 128, "AWS::CloudFront::OriginRequestPolicy": 128}
		for res, name := range na {
			typ := strings.Fields(res)[0]
			if max, ok := limits[typ]; ok && len(name.(string)) > max {
				t.Errorf("%s: name %q is %d characters, CloudFront takes %d", res, name, len(name.(string)), max)
			}
			if nb[res] == name {
				t.Errorf("%s: stacks %sA and %sB get the same name %q", res, long, long, name)
			}
		}
	})

	t.Run("README lists the types", func(t *testing.T) {
		b, err := os.ReadFile("README.md")
		if err != nil {
			t.Fatal(err)
		}
		for typ := range accountGlobalTypes {
			if !strings.Contains(string(b), "`"+typ+"`") {
				t.Errorf("infra/README.md does not list %s", typ)
			}
		}
	})
}

// TestRegionTables checks the region tables against each other: every
// code is a known commercial region, the regions AWS's VPC origin page
// leaves out are the ones marked unavailable, and the four regions the
// CloudFront logging page names are among those refused.
func TestRegionTables(t *testing.T) {
	tables := map[string][]string{
		"functionURLUnavailable": functionURLUnavailable, "vpcOriginSupported": vpcOriginSupported,
		"vpcOriginUnavailable": vpcOriginUnavailable, "standardLogsUnavailable": standardLogsUnavailable,
		"OriginShieldRegions": OriginShieldRegions,
	}
	for name, tab := range tables {
		seen := map[string]bool{}
		for _, r := range tab {
			if !slices.Contains(commercialRegions, r) {
				t.Errorf("%s: %q is not a known commercial region", name, r)
			}
			if seen[r] {
				t.Errorf("%s: %q twice", name, r)
			}
			seen[r] = true
		}
	}
	var missing []string
	for _, r := range commercialRegions {
		if !slices.Contains(vpcOriginSupported, r) {
			missing = append(missing, r)
		}
	}
	got := slices.Clone(vpcOriginUnavailable)
	sort.Strings(got)
	sort.Strings(missing)
	if !slices.Equal(got, missing) {
		t.Errorf("vpcOriginUnavailable %v, want the regions the supported list lacks: %v", got, missing)
	}
	for _, r := range []string{"af-south-1", "ap-east-1", "eu-south-1", "me-south-1"} {
		if !slices.Contains(standardLogsUnavailable, r) {
			t.Errorf("%s (named by the CloudFront logging page) is not refused for standard logs", r)
		}
	}
	if len(regionGaps) != 3 {
		t.Errorf("%d features in regionGaps, want Function URLs, VPC origins and standard logs", len(regionGaps))
	}
}

// TestRegionChecks: synth stops in a region that lacks a feature the
// configuration uses, naming the feature, the region and what to do, and
// goes through once the configuration no longer uses it.
func TestRegionChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    func(t *testing.T) map[string]string
		region string
		want   []string // all in the error; none: synth succeeds
	}{
		{"function URLs", func(*testing.T) map[string]string { return map[string]string{"accessLogs": "false"} }, "me-central-1",
			[]string{"region me-central-1", "Lambda function URLs", "compute=ecs", "Creating and managing Lambda function URLs"}},
		{"standard logs", func(*testing.T) map[string]string { return nil }, "af-south-1",
			[]string{"region af-south-1", "standard logging (legacy)", "accessLogs=false"}},
		{"standard logs off", func(*testing.T) map[string]string { return map[string]string{"accessLogs": "false"} }, "af-south-1", nil},
		{"both", func(*testing.T) map[string]string { return nil }, "il-central-1",
			[]string{"Lambda function URLs", "standard logging (legacy)"}},
		{"VPC origins", func(t *testing.T) map[string]string { return ecsCtx(t, "accessLogs", "false") }, "ap-southeast-6",
			[]string{"region ap-southeast-6", "VPC origins", "compute=lambda"}},
		{"ECS where function URLs are missing", func(t *testing.T) map[string]string { return ecsCtx(t, "accessLogs", "false") }, "me-central-1", nil},
		{"eu-west-1", func(*testing.T) map[string]string { return nil }, "eu-west-1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.ctx(t), tc.region)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("synth in %s: %v", tc.region, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("synth in %s succeeded, want an error naming %q", tc.region, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// warningsOf returns the stack's own configuration warnings (their IDs).
func warningsOf(s *synthesized) map[string]string {
	out := map[string]string{}
	for _, w := range *s.ann.FindWarning(jsii.String("*"), assertions.Match_AnyValue()) {
		//lint:ignore SA1019 the assertions API returns this type; it has no replacement in the Go module
		msg := fmt.Sprint(w.Entry.Data)
		if _, id, ok := strings.Cut(msg, "[ack: "); ok {
			out[strings.TrimSuffix(id, "]")] = msg
		}
	}
	return out
}

// TestConfigWarnings: the guardrails warning names the worst hour of the
// cost model and both keys, and goes away with either guardrail; quota
// and timeout warnings appear exactly when their values call for them.
func TestConfigWarnings(t *testing.T) {
	worst := worstCaseHour(DefaultMemoryMB, int(costCount("accountConcurrency")))
	for _, tc := range []struct {
		name   string
		ctx    func(t *testing.T) map[string]string
		region string
		want   map[string][]string // warning ID -> words in it
	}{
		{"no guardrail", func(*testing.T) map[string]string { return nil }, "", map[string][]string{
			WarnGuardrails: {fmt.Sprintf("at least $%.0f an hour", worst.total()), fmt.Sprintf("CloudFront egress $%.0f", worst.egress),
				"reservedConcurrency", "webAclArn", "waf=true", "1000 concurrent executions"},
		}},
		{"memory scales the Lambda line", func(*testing.T) map[string]string { return map[string]string{"memorySize": "2048"} }, "", map[string][]string{
			WarnGuardrails: {fmt.Sprintf("at least $%.0f an hour", worstCaseHour(2048, 1000).total())},
		}},
		{"reserved concurrency", func(*testing.T) map[string]string { return map[string]string{"reservedConcurrency": "20"} }, "", nil},
		{"waf", func(*testing.T) map[string]string { return map[string]string{"waf": "true"} }, "us-east-1", nil},
		{"web ACL", func(*testing.T) map[string]string {
			return map[string]string{"webAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/gw/abc"}
		}, "", nil},
		{"ecs is bounded by maxTasks", func(t *testing.T) map[string]string { return ecsCtx(t) }, "eu-west-1", nil},
		{"quotas", func(*testing.T) map[string]string {
			return map[string]string{"reservedConcurrency": "20", "originReadTimeout": "150", "originKeepaliveTimeout": "121", "timeout": "180"}
		}, "", map[string][]string{
			WarnReadTimeoutQuota: {"originReadTimeout=150", "quota increase"},
			WarnKeepaliveQuota:   {"originKeepaliveTimeout=121", "quota increase"},
		}},
		{"at the quota", func(*testing.T) map[string]string {
			return map[string]string{"reservedConcurrency": "20", "originReadTimeout": "120", "originKeepaliveTimeout": "120"}
		}, "", nil},
		{"short timeout", func(*testing.T) map[string]string {
			return map[string]string{"reservedConcurrency": "20", "timeout": "90"}
		}, "", map[string][]string{
			WarnTimeoutCutsStreams: {"timeout=90", "97 s"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, tc.ctx(t), tc.region)
			got := warningsOf(s)
			if len(got) != len(tc.want) {
				t.Errorf("warnings %v, want %d: %v", keys(got), len(tc.want), tc.want)
			}
			for id, words := range tc.want {
				msg, ok := got[id]
				if !ok {
					t.Errorf("no %s warning", id)
					continue
				}
				for _, w := range words {
					if !strings.Contains(msg, w) {
						t.Errorf("%s warning %q lacks %q", id, msg, w)
					}
				}
			}
		})
	}
}

// originOf returns the distribution's only origin.
func originOf(t *testing.T, s *synthesized) map[string]interface{} {
	t.Helper()
	_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
	origins := props(dist)["DistributionConfig"].(map[string]interface{})["Origins"].([]interface{})
	if len(origins) != 1 {
		t.Fatalf("%d origins, want 1", len(origins))
	}
	return origins[0].(map[string]interface{})
}

func responseHeadersConfig(t *testing.T, s *synthesized) map[string]interface{} {
	t.Helper()
	_, rhp := s.onlyResource(t, "AWS::CloudFront::ResponseHeadersPolicy")
	return props(rhp)["ResponseHeadersPolicyConfig"].(map[string]interface{})
}

// TestLambdaOriginSettings: the Function URL origin's keep-alive timeout,
// Origin Shield and OAC name, and the Server-Timing sampling rate.
func TestLambdaOriginSettings(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		s := synth(t, nil, "eu-west-1")
		o := originOf(t, s)
		coc := o["CustomOriginConfig"].(map[string]interface{})
		if coc["OriginKeepaliveTimeout"] != float64(DefaultOriginKeepaliveTimeoutSeconds) || coc["OriginReadTimeout"] != float64(DefaultOriginReadTimeoutSeconds) {
			t.Errorf("custom origin config %s, want keep-alive %d read %d", canon(coc), DefaultOriginKeepaliveTimeoutSeconds, DefaultOriginReadTimeoutSeconds)
		}
		if o["OriginShield"] != nil {
			t.Errorf("Origin Shield %s by default", canon(o["OriginShield"]))
		}
		_, oac := s.onlyResource(t, "AWS::CloudFront::OriginAccessControl")
		if n := props(oac)["OriginAccessControlConfig"].(map[string]interface{})["Name"]; n != "HashStreamGateway-FunctionUrl-eu-west-1" {
			t.Errorf("OAC name %v", n)
		}
		if got := canon(responseHeadersConfig(t, s)["ServerTimingHeadersConfig"]); got != `{"Enabled":true,"SamplingRate":100}` {
			t.Errorf("Server-Timing %s, want on for every response", got)
		}
	})
	t.Run("origin shield and sampling", func(t *testing.T) {
		s := synth(t, map[string]string{"originShieldRegion": "EU-WEST-1", "serverTimingSamplingRate": "12.5", "originKeepaliveTimeout": "30"}, "eu-west-1")
		o := originOf(t, s)
		if canon(o["OriginShield"]) != `{"Enabled":true,"OriginShieldRegion":"eu-west-1"}` {
			t.Errorf("Origin Shield %s, want eu-west-1", canon(o["OriginShield"]))
		}
		if k := o["CustomOriginConfig"].(map[string]interface{})["OriginKeepaliveTimeout"]; k != 30.0 {
			t.Errorf("keep-alive %v, want 30", k)
		}
		if got := canon(responseHeadersConfig(t, s)["ServerTimingHeadersConfig"]); got != `{"Enabled":true,"SamplingRate":12.5}` {
			t.Errorf("Server-Timing %s, want 12.5%%", got)
		}
		checkNoNagFindings(t, s)
	})
	t.Run("server timing off", func(t *testing.T) {
		s := synth(t, map[string]string{"serverTimingSamplingRate": "0"}, "")
		if v, ok := responseHeadersConfig(t, s)["ServerTimingHeadersConfig"]; ok {
			t.Errorf("Server-Timing %s with a sampling rate of 0", canon(v))
		}
	})
}

// TestWAFCacheBustingRule: wafCacheBustingRateLimit adds a second
// rate-based rule that counts only requests whose (URL-decoded) query
// holds entity-bytes or filename.
func TestWAFCacheBustingRule(t *testing.T) {
	s := synth(t, map[string]string{"waf": "true", "wafRateLimit": "1000", "wafCacheBustingRateLimit": "100"}, "us-east-1")
	_, acl := s.onlyResource(t, "AWS::WAFv2::WebACL")
	rules := props(acl)["Rules"].([]interface{})
	if len(rules) != 2 {
		t.Fatalf("%d rules, want the general and the cache-busting rate rules", len(rules))
	}
	r := rules[1].(map[string]interface{})
	if r["Name"] != WAFCacheBustingRuleName || r["Priority"] != 1.0 || canon(r["Action"]) != `{"Block":{}}` {
		t.Errorf("rule %v priority %v action %s", r["Name"], r["Priority"], canon(r["Action"]))
	}
	match := func(p string) string {
		return `{"ByteMatchStatement":{"FieldToMatch":{"QueryString":{}},"PositionalConstraint":"CONTAINS","SearchString":"` + p +
			`","TextTransformations":[{"Priority":0,"Type":"URL_DECODE"}]}}`
	}
	want := `{"RateBasedStatement":{"AggregateKeyType":"IP","EvaluationWindowSec":300,"Limit":100,"ScopeDownStatement":{"OrStatement":{"Statements":[` +
		match("entity-bytes") + `,` + match("filename") + `]}}}}`
	if got := canon(r["Statement"]); got != want {
		t.Errorf("cache-busting statement\n got %s\nwant %s", got, want)
	}
	if got := canon(rules[0].(map[string]interface{})["Statement"]); got != `{"RateBasedStatement":{"AggregateKeyType":"IP","EvaluationWindowSec":300,"Limit":1000}}` {
		t.Errorf("general statement %s", got)
	}
	checkNoNagFindings(t, s)

	// Without the key: one rule, as before.
	s = synth(t, map[string]string{"waf": "true"}, "us-east-1")
	_, acl = s.onlyResource(t, "AWS::WAFv2::WebACL")
	if n := len(props(acl)["Rules"].([]interface{})); n != 1 {
		t.Errorf("%d rules without wafCacheBustingRateLimit, want 1", n)
	}
}

// TestDeployLimitErrors: values CloudFront, WAF or the stack's own logic
// refuse stop synth with an error naming the context key.
func TestDeployLimitErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    func(t *testing.T) map[string]string
		region string
		want   string
	}{
		{"read timeout above 180", kv("originReadTimeout", "181"), "", "originReadTimeout"},
		{"read timeout 0", kv("originReadTimeout", "0"), "", "originReadTimeout"},
		{"keep-alive above 180", kv("originKeepaliveTimeout", "181"), "", "originKeepaliveTimeout"},
		{"keep-alive 0", kv("originKeepaliveTimeout", "0"), "", "originKeepaliveTimeout"},
		{"timeout below read timeout", kv("timeout", "30", "originReadTimeout", "60"), "", "timeout=30 is below originReadTimeout=60"},
		{"sampling above 100", kv("serverTimingSamplingRate", "100.5"), "", "serverTimingSamplingRate"},
		{"sampling negative", kv("serverTimingSamplingRate", "-1"), "", "serverTimingSamplingRate"},
		{"sampling five decimals", kv("serverTimingSamplingRate", "1.23456"), "", "serverTimingSamplingRate"},
		{"sampling not a number", kv("serverTimingSamplingRate", "all"), "", "serverTimingSamplingRate"},
		{"origin shield region", kv("originShieldRegion", "eu-north-1"), "", `originShieldRegion="eu-north-1"`},
		{"cache-busting without waf", kv("wafCacheBustingRateLimit", "100"), "", "wafCacheBustingRateLimit needs waf=true"},
		{"cache-busting not tighter", kv("waf", "true", "wafRateLimit", "500", "wafCacheBustingRateLimit", "500"), "us-east-1", "must be tighter than wafRateLimit=500"},
		{"cache-busting below WAF's minimum", kv("waf", "true", "wafCacheBustingRateLimit", "9"), "us-east-1", "wafCacheBustingRateLimit"},
		{"prefix list on lambda", kv("cloudFrontPrefixListId", "pl-12345678"), "", "cloudFrontPrefixListId needs compute=ecs"},
		{"prefix list not an ID", func(t *testing.T) map[string]string { return ecsCtx(t, "cloudFrontPrefixListId", "sg-12345678") }, "eu-west-1", "cloudFrontPrefixListId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.ctx(t), tc.region)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// The bounds themselves are accepted.
	for _, ctx := range []map[string]string{
		{"originReadTimeout": "180", "timeout": "180", "originKeepaliveTimeout": "180", "serverTimingSamplingRate": "99.9999", "reservedConcurrency": "5"},
		{"originReadTimeout": "1", "originKeepaliveTimeout": "1", "serverTimingSamplingRate": "0"},
	} {
		if _, err := build(t, ctx, ""); err != nil {
			t.Errorf("%v: %v", ctx, err)
		}
	}
}

func kv(pairs ...string) func(*testing.T) map[string]string {
	return func(*testing.T) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(pairs); i += 2 {
			m[pairs[i]] = pairs[i+1]
		}
		return m
	}
}
