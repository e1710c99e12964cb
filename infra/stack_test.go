package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// lambdaDir holds a dummy bootstrap for every stack the tests synthesize.
var lambdaDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// The jsii kernel runs on the `node` found on PATH: prefer the Node 22
	// the repository installs (.tools), as the Makefile does.
	if bin, err := filepath.Abs("../.tools/node/node_modules/.bin"); err == nil {
		if _, err := os.Stat(filepath.Join(bin, "node")); err == nil {
			os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		}
	}
	dir, err := os.MkdirTemp("", "infra-lambda-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lambdaDir = dir
	defer jsii.Close()
	return m.Run()
}

// cdkJSONContext is the "context" of the repository's cdk.json (the feature
// flags), so the tests synthesize what `cdk synth` does.
func cdkJSONContext(t *testing.T) map[string]interface{} {
	t.Helper()
	b, err := os.ReadFile("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Context map[string]interface{} `json:"context"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	return c.Context
}

type synthesized struct {
	outdir string // the cloud assembly, with the staged assets
	cfg    Config
	stack  *GatewayStack
	tmpl   assertions.Template
	json   map[string]interface{}
	ann    assertions.Annotations
}

// synth builds the app as main does, with ctx given as `-c key=value`
// strings and the stack pinned to region (empty: environment-agnostic).
func synth(t *testing.T, ctx map[string]string, region string) *synthesized {
	t.Helper()
	s, err := build(t, ctx, region)
	if err != nil {
		t.Fatalf("NewGatewayStack: %v", err)
	}
	return s
}

func build(t *testing.T, ctx map[string]string, region string) (*synthesized, error) {
	t.Helper()
	c := cdkJSONContext(t)
	c["lambdaDir"] = lambdaDir
	c["invalidatorLambdaDir"] = lambdaDir
	for k, v := range ctx {
		c[k] = v
	}
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &c, Outdir: jsii.String(outdir)})
	cfg, err := ConfigFromContext(app.Node())
	if err != nil {
		return nil, err
	}
	var env *awscdk.Environment
	if region != "" {
		env = &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String(region)}
	}
	st, err := NewGatewayStack(app, cfg.StackName, &GatewayStackProps{StackProps: awscdk.StackProps{Env: env}, Config: cfg})
	if err != nil {
		return nil, err
	}
	ApplyNag(app, false)
	s := &synthesized{outdir: outdir, cfg: cfg, stack: st}
	// Synthesis fails (a panic from jsii) on an error annotation, such as
	// an unsuppressed cdk-nag finding: cdk.json enables
	// @aws-cdk/core:annotationsInValidationReport.
	if err := catch(func() { s.tmpl = assertions.Template_FromStack(st.Stack, nil) }); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	s.json = *s.tmpl.ToJSON()
	s.ann = assertions.Annotations_FromStack(st.Stack)
	return s, nil
}

func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// must runs an assertion of the assertions package, which panics on a
// mismatch, and turns the panic into a test error.
func must(t *testing.T, f func()) {
	t.Helper()
	if err := catch(f); err != nil {
		t.Error(err)
	}
}

func obj(kv ...interface{}) *map[string]interface{} {
	m := map[string]interface{}{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return &m
}

func arr(v ...interface{}) *[]interface{} { return &v }

func like(kv ...interface{}) assertions.Matcher { return assertions.Match_ObjectLike(obj(kv...)) }

// resources returns the template's resources of one type by logical ID.
func (s *synthesized) resources(typ string) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for id, r := range s.json["Resources"].(map[string]interface{}) {
		r := r.(map[string]interface{})
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func (s *synthesized) onlyResource(t *testing.T, typ string) (string, map[string]interface{}) {
	t.Helper()
	rs := s.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("%d %s resources, want 1", len(rs), typ)
	}
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

func props(r map[string]interface{}) map[string]interface{} {
	p, _ := r["Properties"].(map[string]interface{})
	return p
}

func strs(v interface{}) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []interface{}:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// statement is one IAM statement, with its resources in canonical JSON.
type statement struct {
	Effect    string
	Actions   []string
	Resources []string
	Condition interface{}
}

// docStatements returns the statements of one policy document.
func docStatements(doc interface{}) []statement {
	var out []statement
	for _, st := range doc.(map[string]interface{})["Statement"].([]interface{}) {
		st := st.(map[string]interface{})
		var res []string
		switch r := st["Resource"].(type) {
		case []interface{}:
			for _, x := range r {
				res = append(res, canon(x))
			}
		default:
			res = append(res, canon(r))
		}
		sort.Strings(res)
		out = append(out, statement{
			Effect:    fmt.Sprint(st["Effect"]),
			Actions:   strs(st["Action"]),
			Resources: res,
			Condition: st["Condition"],
		})
	}
	return out
}

func canon(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// getAttArn renders {"Fn::GetAtt": [id, "Arn"]} canonically.
func getAttArn(id string) string {
	return canon(map[string]interface{}{"Fn::GetAtt": []interface{}{id, "Arn"}})
}

func objectsOf(id, pattern string) string {
	return canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
		map[string]interface{}{"Fn::GetAtt": []interface{}{id, "Arn"}}, "/" + pattern,
	}}})
}

func importedArn(suffix string) string {
	return canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
		"arn:", map[string]interface{}{"Ref": "AWS::Partition"}, ":s3:::" + suffix,
	}}})
}

// checkLeastPrivilege is common to every variant: read-only S3 on exactly
// the expected resources, own log group, nothing else.
func checkLeastPrivilege(t *testing.T, s *synthesized, wantGet []string, wantList string, wantListCond interface{}) {
	t.Helper()
	checkLeastPrivilegeKMS(t, s, wantGet, wantList, wantListCond, "")
}

// checkLeastPrivilegeKMS is checkLeastPrivilege with kms:Decrypt allowed on
// wantKey only (none when empty), through S3 only.
func checkLeastPrivilegeKMS(t *testing.T, s *synthesized, wantGet []string, wantList string, wantListCond interface{}, wantKey string) {
	t.Helper()
	sawKMS := false
	// The function's role, and the role of the function CDK makes for the
	// initial takedowns list (checked by TestDenylist).
	for id := range s.resources("AWS::IAM::Role") {
		if !strings.HasPrefix(id, "GatewayRole") && !strings.HasPrefix(id, awsCustomResourceProviderID) && !isHeal(id) {
			t.Errorf("IAM role %s: want the function's only", id)
		}
	}
	logGroupID, _ := s.gatewayLogGroup(t)
	var sawGet, sawList, sawLogs bool
	_, role := s.byID(t, "AWS::IAM::Role", "GatewayRole")
	if mp := props(role)["ManagedPolicyArns"]; mp != nil {
		t.Errorf("function role has managed policies: %v", mp)
	}
	inline, attached := s.roleStatements(t, "GatewayRole")
	stmts := append(inline, attached...)
	checkDenylistGrants(t, s, stmts)
	for _, st := range stmts {
		if st.Effect != "Allow" || isDenylistStatement(t, s, st) {
			continue
		}
		for _, a := range st.Actions {
			la := strings.ToLower(a)
			if strings.Contains(la, "*") || strings.HasPrefix(la, "s3:put") || strings.HasPrefix(la, "s3:delete") ||
				strings.HasPrefix(la, "s3:create") || strings.HasPrefix(la, "s3:restore") {
				t.Errorf("action %q allowed", a)
			}
		}
		for _, r := range st.Resources {
			if r == `"*"` {
				t.Errorf("statement %v has resource *", st.Actions)
			}
		}
		switch {
		case reflect.DeepEqual(st.Actions, []string{"s3:GetObject"}):
			sawGet = true
			want := slices.Clone(wantGet)
			sort.Strings(want)
			if !reflect.DeepEqual(st.Resources, want) {
				t.Errorf("s3:GetObject on %v, want %v", st.Resources, want)
			}
			if st.Condition != nil {
				t.Errorf("s3:GetObject has a condition: %v", st.Condition)
			}
		case reflect.DeepEqual(st.Actions, []string{"s3:ListBucket"}):
			sawList = true
			if !reflect.DeepEqual(st.Resources, []string{wantList}) {
				t.Errorf("s3:ListBucket on %v, want %v", st.Resources, wantList)
			}
			if !reflect.DeepEqual(st.Condition, wantListCond) {
				t.Errorf("s3:ListBucket condition %v, want %v", st.Condition, wantListCond)
			}
		case reflect.DeepEqual(st.Actions, []string{"logs:CreateLogStream", "logs:PutLogEvents"}):
			sawLogs = true
			if !reflect.DeepEqual(st.Resources, []string{getAttArn(logGroupID)}) {
				t.Errorf("logs on %v, want the function's log group %s", st.Resources, logGroupID)
			}
		case wantKey != "" && reflect.DeepEqual(st.Actions, []string{"kms:Decrypt"}):
			sawKMS = true
			if !reflect.DeepEqual(st.Resources, []string{canon(wantKey)}) {
				t.Errorf("kms:Decrypt on %v, want only %s", st.Resources, wantKey)
			}
			if canon(st.Condition) != `{"StringLike":{"kms:ViaService":"s3.*.amazonaws.com"}}` {
				t.Errorf("kms:Decrypt condition %s, want through S3 only", canon(st.Condition))
			}
		default:
			t.Errorf("unexpected statement: %+v", st)
		}
	}
	if sawKMS != (wantKey != "") {
		t.Errorf("kms:Decrypt statement %v, want %v", sawKMS, wantKey != "")
	}
	if !sawGet || !sawList || !sawLogs {
		t.Errorf("statements: GetObject %v, ListBucket %v, logs %v; want all", sawGet, sawList, sawLogs)
	}
}

// checkNoNagFindings: no error annotation at all, and no warning but the
// stack's own configuration warnings (configWarnings, checked by
// TestConfigWarnings).
func checkNoNagFindings(t *testing.T, s *synthesized) {
	t.Helper()
	for _, e := range *s.ann.FindError(jsii.String("*"), assertions.Match_AnyValue()) {
		//lint:ignore SA1019 the assertions API returns this type; it has no replacement in the Go module
		t.Errorf("error annotation on %s: %v", *e.Id, e.Entry.Data)
	}
	for _, w := range *s.ann.FindWarning(jsii.String("*"), assertions.Match_AnyValue()) {
		//lint:ignore SA1019 the assertions API returns this type; it has no replacement in the Go module
		if msg := fmt.Sprint(w.Entry.Data); !strings.Contains(msg, "[ack: hash-stream:") {
			//lint:ignore SA1019 as above
			t.Errorf("warning annotation on %s: %v", *w.Id, msg)
		}
	}
	must(t, func() {
		s.ann.HasNoError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	})
}

func checkFunction(t *testing.T, s *synthesized, memory, timeout float64, env map[string]interface{}) {
	t.Helper()
	_, fn := s.gatewayFunction(t)
	p := props(fn)
	for k, want := range map[string]interface{}{
		"Runtime":       "provided.al2023",
		"Architectures": []interface{}{"arm64"},
		"Handler":       "bootstrap",
		"MemorySize":    memory,
		"Timeout":       timeout,
	} {
		if !reflect.DeepEqual(p[k], want) {
			t.Errorf("function %s = %v, want %v", k, p[k], want)
		}
	}
	got := p["Environment"].(map[string]interface{})["Variables"]
	env = withDenylistEnv(t, s, env)
	if canon(got) != canon(env) {
		t.Errorf("function environment\n got %s\nwant %s", canon(got), canon(env))
	}
	lgID, lg := s.gatewayLogGroup(t)
	if props(lg)["RetentionInDays"] == nil {
		t.Error("log group has no retention")
	}
	if canon(p["LoggingConfig"]) != canon(map[string]interface{}{"LogGroup": map[string]interface{}{"Ref": lgID}}) {
		t.Errorf("function logs to %v, want its log group %s", p["LoggingConfig"], lgID)
	}
}

func checkURLAndOrigin(t *testing.T, s *synthesized, readTimeout float64) {
	t.Helper()
	urlID, url := s.onlyResource(t, "AWS::Lambda::Url")
	if p := props(url); p["AuthType"] != "AWS_IAM" || p["InvokeMode"] != "RESPONSE_STREAM" {
		t.Errorf("function URL AuthType %v InvokeMode %v, want AWS_IAM RESPONSE_STREAM", p["AuthType"], p["InvokeMode"])
	}
	oacID, oac := s.onlyResource(t, "AWS::CloudFront::OriginAccessControl")
	cfg := props(oac)["OriginAccessControlConfig"].(map[string]interface{})
	if cfg["OriginAccessControlOriginType"] != "lambda" || cfg["SigningBehavior"] != "always" || cfg["SigningProtocol"] != "sigv4" {
		t.Errorf("OAC config %v, want lambda/always/sigv4", cfg)
	}
	distID, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
	dc := props(dist)["DistributionConfig"].(map[string]interface{})
	origins := dc["Origins"].([]interface{})
	if len(origins) != 1 {
		t.Fatalf("%d origins, want 1", len(origins))
	}
	o := origins[0].(map[string]interface{})
	if canon(o["OriginAccessControlId"]) != canon(map[string]interface{}{"Fn::GetAtt": []interface{}{oacID, "Id"}}) {
		t.Errorf("origin OAC %v, want %s", o["OriginAccessControlId"], oacID)
	}
	if !strings.Contains(canon(o["DomainName"]), `"`+urlID+`","FunctionUrl"`) {
		t.Errorf("origin domain %v, want the function URL %s", canon(o["DomainName"]), urlID)
	}
	coc := o["CustomOriginConfig"].(map[string]interface{})
	if coc["OriginReadTimeout"] != readTimeout || coc["OriginProtocolPolicy"] != "https-only" {
		t.Errorf("custom origin config %v, want read timeout %v over https-only", coc, readTimeout)
	}
	// CloudFront may invoke the URL, only from this distribution, and
	// nothing else may.
	// (The invalidator's, for CloudWatch Logs: TestHeal.)
	perms := withoutHeal(s.resources("AWS::Lambda::Permission"))
	var actions []string
	for _, r := range perms {
		p := props(r)
		actions = append(actions, fmt.Sprint(p["Action"]))
		if p["Principal"] != "cloudfront.amazonaws.com" {
			t.Errorf("permission for principal %v", p["Principal"])
		}
		if !strings.Contains(canon(p["SourceArn"]), `":distribution/",{"Ref":"`+distID+`"}`) {
			t.Errorf("permission source %s, want distribution %s", canon(p["SourceArn"]), distID)
		}
		if p["FunctionUrlAuthType"] != nil && p["FunctionUrlAuthType"] != "AWS_IAM" {
			t.Errorf("permission FunctionUrlAuthType %v", p["FunctionUrlAuthType"])
		}
	}
	sort.Strings(actions)
	if !reflect.DeepEqual(actions, []string{"lambda:InvokeFunction", "lambda:InvokeFunctionUrl"}) {
		t.Errorf("lambda permissions %v", actions)
	}
}

func checkDistribution(t *testing.T, s *synthesized, logging bool) {
	t.Helper()
	_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
	dc := props(dist)["DistributionConfig"].(map[string]interface{})
	b := dc["DefaultCacheBehavior"].(map[string]interface{})
	if canon(b["AllowedMethods"]) != `["GET","HEAD","OPTIONS"]` || canon(b["CachedMethods"]) != `["GET","HEAD","OPTIONS"]` {
		t.Errorf("methods %v cached %v, want GET HEAD OPTIONS", b["AllowedMethods"], b["CachedMethods"])
	}
	if b["ViewerProtocolPolicy"] != "redirect-to-https" {
		t.Errorf("viewer protocol %v", b["ViewerProtocolPolicy"])
	}
	if dc["HttpVersion"] != "http2and3" {
		t.Errorf("HttpVersion %v, want http2and3", dc["HttpVersion"])
	}
	if (dc["Logging"] != nil) != logging {
		t.Errorf("distribution logging %v, want %v", dc["Logging"], logging)
	}
	cpID, cp := s.onlyResource(t, "AWS::CloudFront::CachePolicy")
	if canon(b["CachePolicyId"]) != canon(map[string]interface{}{"Ref": cpID}) {
		t.Errorf("behaviour cache policy %v, want %s", b["CachePolicyId"], cpID)
	}
	// The origin request policy adds the viewer's address and nothing else
	// (the cache key already forwards what the function needs; the
	// viewer's Host would break a Function URL origin).
	orpID, orp := s.onlyResource(t, "AWS::CloudFront::OriginRequestPolicy")
	if canon(b["OriginRequestPolicyId"]) != ref(orpID) {
		t.Errorf("behaviour origin request policy %v, want %s", b["OriginRequestPolicyId"], orpID)
	}
	oc := props(orp)["OriginRequestPolicyConfig"].(map[string]interface{})
	if got := canon(oc["HeadersConfig"]); got != `{"HeaderBehavior":"whitelist","Headers":["CloudFront-Viewer-Address"]}` {
		t.Errorf("origin request policy headers %s, want CloudFront-Viewer-Address only", got)
	}
	if canon(oc["QueryStringsConfig"]) != `{"QueryStringBehavior":"none"}` || canon(oc["CookiesConfig"]) != `{"CookieBehavior":"none"}` {
		t.Errorf("origin request policy query %s cookies %s, want none", canon(oc["QueryStringsConfig"]), canon(oc["CookiesConfig"]))
	}
	c := props(cp)["CachePolicyConfig"].(map[string]interface{})
	if c["MinTTL"] != 0.0 || c["MaxTTL"].(float64) < 29030400 || c["DefaultTTL"].(float64) < 3600 {
		t.Errorf("TTLs min %v default %v max %v: want 0, long, at least the origin's max-age", c["MinTTL"], c["DefaultTTL"], c["MaxTTL"])
	}
	k := c["ParametersInCacheKeyAndForwardedToOrigin"].(map[string]interface{})
	h := k["HeadersConfig"].(map[string]interface{})
	if h["HeaderBehavior"] != "whitelist" || canon(h["Headers"]) != `["Accept"]` {
		t.Errorf("cache key headers %v", h)
	}
	q := k["QueryStringsConfig"].(map[string]interface{})
	gotQ := strs(q["QueryStrings"])
	sort.Strings(gotQ)
	// Exactly what the cache-key function leaves (cachekey.js): a name it
	// drops would only widen the key, one it keeps but the key lacks
	// would serve one variant for another.
	wantQ := slices.Clone(CacheKeyQueryStrings)
	sort.Strings(wantQ)
	if !slices.Equal(gotQ, wantQ) {
		t.Errorf("cache key query strings %v, want %v", gotQ, wantQ)
	}
	for _, want := range []string{"format", "dag-scope", "entity-bytes", "car-dups", "filename"} {
		if !slices.Contains(gotQ, want) {
			t.Errorf("query string %q not in the cache key %v", want, gotQ)
		}
	}
	if _, fn := s.onlyResource(t, "AWS::CloudFront::Function"); fn == nil {
		t.Error("no cache-key function")
	}
	if q["QueryStringBehavior"] != "whitelist" {
		t.Errorf("query string behaviour %v", q["QueryStringBehavior"])
	}
	if k["CookiesConfig"].(map[string]interface{})["CookieBehavior"] != "none" {
		t.Errorf("cookies in cache key: %v", k["CookiesConfig"])
	}
	must(t, func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::CloudFront::ResponseHeadersPolicy"), like(
			"ResponseHeadersPolicyConfig", like(
				"CorsConfig", like(
					"AccessControlAllowOrigins", like("Items", arr("*")),
					"AccessControlAllowMethods", like("Items", arr("GET", "HEAD", "OPTIONS")),
				),
				"SecurityHeadersConfig", like("ContentTypeOptions", like("Override", true)),
			)))
	})
}

func checkOutputs(t *testing.T, s *synthesized, extra ...string) {
	t.Helper()
	outs := s.json["Outputs"].(map[string]interface{})
	for _, k := range append([]string{"DistributionUrl", "IndexBucketName", "PackBucketName", "FunctionName", "FunctionUrl"}, extra...) {
		if outs[k] == nil {
			t.Errorf("output %s missing", k)
		}
	}
	distID, _ := s.onlyResource(t, "AWS::CloudFront::Distribution")
	want := canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
		"https://", map[string]interface{}{"Fn::GetAtt": []interface{}{distID, "DomainName"}},
	}}})
	if got := canon(outs["DistributionUrl"].(map[string]interface{})["Value"]); got != want {
		t.Errorf("DistributionUrl %s, want %s", got, want)
	}
}

func bucketID(t *testing.T, s *synthesized, prefix string) string {
	t.Helper()
	for id := range s.resources("AWS::S3::Bucket") {
		if strings.HasPrefix(id, prefix) {
			return id
		}
	}
	t.Fatalf("no bucket %s*", prefix)
	return ""
}

func checkCreatedBuckets(t *testing.T, s *synthesized, deletion string, logs bool) {
	t.Helper()
	for _, name := range []string{"IndexBucket", "PackBucket"} {
		id := bucketID(t, s, name)
		r := s.resources("AWS::S3::Bucket")[id]
		p := props(r)
		if canon(p["PublicAccessBlockConfiguration"]) != `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}` {
			t.Errorf("%s public access block %v", name, p["PublicAccessBlockConfiguration"])
		}
		if canon(p["BucketEncryption"]) != `{"ServerSideEncryptionConfiguration":[{"ServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}` {
			t.Errorf("%s encryption %v, want S3-managed", name, canon(p["BucketEncryption"]))
		}
		if r["DeletionPolicy"] != deletion || r["UpdateReplacePolicy"] != deletion {
			t.Errorf("%s deletion policy %v/%v, want %s", name, r["DeletionPolicy"], r["UpdateReplacePolicy"], deletion)
		}
		if got := canon(p["LifecycleConfiguration"]); got != `{"Rules":[{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7},"Id":"abort-incomplete-multipart-uploads","Status":"Enabled"}]}` {
			t.Errorf("%s lifecycle %s, want incomplete multipart uploads aborted after 7 days", name, got)
		}
		if (p["LoggingConfiguration"] != nil) != logs {
			t.Errorf("%s server access logs %v, want %v", name, p["LoggingConfiguration"], logs)
		}
		// EnforceSSL: the bucket policy denies requests without TLS.
		must(t, func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), like(
				"Bucket", obj("Ref", id),
				"PolicyDocument", like("Statement", assertions.Match_ArrayWith(arr(like(
					"Effect", "Deny",
					"Condition", obj("Bool", obj("aws:SecureTransport", "false")),
				)))),
			))
		})
	}
}

// alarmsByID returns the template's alarms by logical ID prefix (the
// construct id: FunctionErrorsAlarm, ...).
func alarmsByID(t *testing.T, s *synthesized) map[string]map[string]interface{} {
	t.Helper()
	out := map[string]map[string]interface{}{}
	for id, r := range withoutHeal(s.resources("AWS::CloudWatch::Alarm")) {
		for _, name := range []string{"FunctionErrorsAlarm", "FunctionThrottlesAlarm", "FunctionDurationAlarm", "CloudFront5xxAlarm", "TTFBAlarm", "DenylistReloadFailuresAlarm"} {
			if strings.HasPrefix(id, name) {
				if out[name] != nil {
					t.Errorf("two %s alarms", name)
				}
				out[name] = r
			}
		}
	}
	if len(out) != len(withoutHeal(s.resources("AWS::CloudWatch::Alarm"))) {
		t.Errorf("unexpected alarms among %v", keys(s.resources("AWS::CloudWatch::Alarm")))
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkAlarms checks the alarms of alarms=true: which exist, their metric
// and threshold, the 5xx alarm's region condition (cfCondition: "" for none,
// "absent" for no 5xx alarm), and that each notifies topic (none when "").
func checkAlarms(t *testing.T, s *synthesized, timeoutSeconds float64, cfCondition string, ttfb bool, topic string) {
	t.Helper()
	as := alarmsByID(t, s)
	want := []string{"FunctionDurationAlarm", "FunctionErrorsAlarm", "FunctionThrottlesAlarm"}
	if cfCondition != "absent" {
		want = append(want, "CloudFront5xxAlarm")
	}
	if ttfb {
		want = append(want, "TTFBAlarm")
	}
	denylistNS := DenylistMetricNamespace
	if s.cfg.Denylist != DenylistOff {
		want = append(want, "DenylistReloadFailuresAlarm")
		if ttfb {
			denylistNS = s.cfg.MetricsNamespace
		}
	}
	sort.Strings(want)
	if got := keys(as); !reflect.DeepEqual(got, want) {
		t.Fatalf("alarms %v, want %v", got, want)
	}
	fnID, _ := s.gatewayFunction(t)
	distID, _ := s.onlyResource(t, "AWS::CloudFront::Distribution")
	for name, want := range map[string]struct {
		ns, metric, stat string
		threshold        float64
		op               string
	}{
		"FunctionErrorsAlarm":         {"AWS/Lambda", "Errors", "Sum", 1, "GreaterThanOrEqualToThreshold"},
		"FunctionThrottlesAlarm":      {"AWS/Lambda", "Throttles", "Sum", 1, "GreaterThanOrEqualToThreshold"},
		"FunctionDurationAlarm":       {"AWS/Lambda", "Duration", "p99", AlarmDurationFraction * timeoutSeconds * 1000, "GreaterThanThreshold"},
		"CloudFront5xxAlarm":          {"AWS/CloudFront", "5xxErrorRate", "Average", AlarmCloudFront5xxPercent, "GreaterThanThreshold"},
		"TTFBAlarm":                   {"HashStream", "ttfb_ms", "p99", AlarmTTFBMillis, "GreaterThanThreshold"},
		"DenylistReloadFailuresAlarm": {denylistNS, DenylistReloadFailuresMetric, "Sum", 1, "GreaterThanOrEqualToThreshold"},
	} {
		r := as[name]
		if r == nil {
			continue
		}
		p := props(r)
		stat := p["Statistic"]
		if stat == nil {
			stat = p["ExtendedStatistic"]
		}
		if p["Namespace"] != want.ns || p["MetricName"] != want.metric || stat != want.stat || p["Period"] != 300.0 {
			t.Errorf("%s on %v/%v %v period %v, want %s/%s %s over 300 s", name, p["Namespace"], p["MetricName"], stat, p["Period"], want.ns, want.metric, want.stat)
		}
		if p["Threshold"] != want.threshold || p["ComparisonOperator"] != want.op {
			t.Errorf("%s threshold %v %v, want %v %v", name, p["ComparisonOperator"], p["Threshold"], want.op, want.threshold)
		}
		if p["TreatMissingData"] != "notBreaching" {
			t.Errorf("%s treats missing data as %v, want notBreaching", name, p["TreatMissingData"])
		}
		dims := canon(p["Dimensions"])
		switch want.ns {
		case "AWS/Lambda":
			if dims != canon([]interface{}{map[string]interface{}{"Name": "FunctionName", "Value": map[string]interface{}{"Ref": fnID}}}) {
				t.Errorf("%s dimensions %s, want the function", name, dims)
			}
		case "AWS/CloudFront":
			if !strings.Contains(dims, `{"Name":"DistributionId","Value":{"Ref":"`+distID+`"}}`) || !strings.Contains(dims, `{"Name":"Region","Value":"Global"}`) {
				t.Errorf("%s dimensions %s, want the distribution, Global", name, dims)
			}
			if got, _ := r["Condition"].(string); got != cfCondition {
				t.Errorf("%s condition %q, want %q", name, got, cfCondition)
			}
		}
		var actions []string
		for _, k := range []string{"AlarmActions", "OKActions"} {
			actions = append(actions, canon(p[k]))
		}
		wantActions := []string{"null", "null"}
		if topic != "" {
			ref := canon([]interface{}{map[string]interface{}{"Ref": topic}})
			wantActions = []string{ref, ref}
		}
		if !reflect.DeepEqual(actions, wantActions) {
			t.Errorf("%s actions %v, want %v", name, actions, wantActions)
		}
	}
	if cfCondition != "" && cfCondition != "absent" {
		c := canon(s.json["Conditions"].(map[string]interface{})[cfCondition])
		if c != `{"Fn::Equals":[{"Ref":"AWS::Region"},"us-east-1"]}` {
			t.Errorf("condition %s = %s, want the region to be us-east-1", cfCondition, c)
		}
	}
	_, dash := s.onlyResource(t, "AWS::CloudWatch::Dashboard")
	body := canon(props(dash)["DashboardBody"])
	for _, m := range []string{`\"AWS/Lambda\",\"Duration\"`, `\"AWS/CloudFront\",\"5xxErrorRate\"`, `\"region\":\"us-east-1\"`} {
		if !strings.Contains(body, m) {
			t.Errorf("dashboard has no %s", m)
		}
	}
	if strings.Contains(body, "ttfb_ms") != ttfb {
		t.Errorf("dashboard EMF metrics %v, want %v", strings.Contains(body, "ttfb_ms"), ttfb)
	}
	if n := len(s.resources("AWS::SNS::Topic")); n != map[bool]int{false: 0, true: 1}[topic != ""] {
		t.Errorf("%d SNS topics, want one only with alarmEmail", n)
	}
}

func checkNoAlarms(t *testing.T, s *synthesized) {
	t.Helper()
	for _, typ := range []string{"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::Topic"} {
		if n := len(s.resources(typ)); n != 0 {
			t.Errorf("%d %s with alarms=false", n, typ)
		}
	}
}

func TestDefaultStack(t *testing.T) {
	s := synth(t, nil, "")
	index, pack := bucketID(t, s, "IndexBucket"), bucketID(t, s, "PackBucket")

	t.Run("buckets", func(t *testing.T) {
		checkCreatedBuckets(t, s, "Retain", true)
		if n := len(s.storeResources("AWS::S3::Bucket")); n != 3 {
			t.Errorf("%d buckets, want index, pack and access logs", n)
		}
		logs := bucketID(t, s, "AccessLogBucket")
		p := props(s.resources("AWS::S3::Bucket")[logs])
		if p["LifecycleConfiguration"] == nil {
			t.Error("access log bucket has no expiration")
		}
		if p["PublicAccessBlockConfiguration"] == nil || p["BucketEncryption"] == nil {
			t.Error("access log bucket is not private and encrypted")
		}
	})
	t.Run("iam", func(t *testing.T) {
		// Made buckets: packs under DefaultPackPrefix, so the grants on
		// packs stop there.
		checkLeastPrivilege(t, s, []string{objectsOf(index, "*"), objectsOf(pack, DefaultPackPrefix+"*")}, getAttArn(index), nil)
	})
	t.Run("function", func(t *testing.T) {
		checkFunction(t, s, DefaultMemoryMB, DefaultTimeoutSeconds, map[string]interface{}{
			EnvIndexBucket: map[string]interface{}{"Ref": index},
			EnvIndexPrefix: "",
			EnvPackBucket:  map[string]interface{}{"Ref": pack},
			EnvPackPrefix:  DefaultPackPrefix,
			EnvLogLevel:    "info",
		})
	})
	t.Run("no guardrails that cost or could break a deploy", func(t *testing.T) {
		_, fn := s.gatewayFunction(t)
		if got := props(fn)["ReservedConcurrentExecutions"]; got != nil {
			t.Errorf("ReservedConcurrentExecutions %v by default, want none", got)
		}
		if n := len(s.resources("AWS::WAFv2::WebACL")); n != 0 {
			t.Errorf("%d web ACLs by default, want none", n)
		}
	})
	t.Run("alarms and dashboard", func(t *testing.T) {
		// Region unknown at synth: the 5xx alarm exists only if deployed to us-east-1.
		checkAlarms(t, s, DefaultTimeoutSeconds, "InUsEast1", false, "")
	})
	t.Run("url and origin", func(t *testing.T) { checkURLAndOrigin(t, s, DefaultOriginReadTimeoutSeconds) })
	t.Run("distribution", func(t *testing.T) {
		checkDistribution(t, s, true)
		_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
		dc := props(dist)["DistributionConfig"].(map[string]interface{})
		if dc["Aliases"] != nil || dc["ViewerCertificate"] != nil {
			t.Errorf("aliases %v certificate %v without a custom domain", dc["Aliases"], dc["ViewerCertificate"])
		}
		for _, typ := range []string{"AWS::CertificateManager::Certificate", "AWS::Route53::RecordSet"} {
			if n := len(s.resources(typ)); n != 0 {
				t.Errorf("%d %s without a custom domain", n, typ)
			}
		}
	})
	t.Run("outputs", func(t *testing.T) {
		checkOutputs(t, s, "PackPrefix")
		outs := s.json["Outputs"].(map[string]interface{})
		if canon(outs["IndexBucketName"].(map[string]interface{})["Value"]) != canon(map[string]interface{}{"Ref": index}) {
			t.Errorf("IndexBucketName output %v", outs["IndexBucketName"])
		}
		if v := outs["PackPrefix"].(map[string]interface{})["Value"]; v != DefaultPackPrefix {
			t.Errorf("PackPrefix output %v, want %s", v, DefaultPackPrefix)
		}
		if outs["IndexPrefix"] != nil {
			t.Errorf("IndexPrefix output %v without indexPrefix", outs["IndexPrefix"])
		}
	})
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

const testKMSKey = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestImportedBuckets(t *testing.T) {
	s := synth(t, map[string]string{
		"indexBucketName": "js-cli-index",
		"packBucketName":  "js-cli-packs",
		"indexPrefix":     "store/index/",
		"packPrefix":      "store/packs/",
		"accessLogs":      "false",
		"kmsKeyArn":       testKMSKey,
		"alarms":          "false",
	}, "")
	t.Run("no alarms", func(t *testing.T) { checkNoAlarms(t, s) })

	t.Run("no buckets made", func(t *testing.T) {
		if n := len(s.storeResources("AWS::S3::Bucket")); n != 0 {
			t.Errorf("%d buckets made, want none (imported, no access logs)", n)
		}
		if n := len(s.storeResources("AWS::S3::BucketPolicy")); n != 0 {
			t.Errorf("%d bucket policies: the stack must not change imported buckets", n)
		}
	})
	t.Run("iam scoped to prefixes and the key", func(t *testing.T) {
		checkLeastPrivilegeKMS(t, s,
			[]string{importedArn("js-cli-index/store/index/*"), importedArn("js-cli-packs/store/packs/*")},
			importedArn("js-cli-index"),
			map[string]interface{}{"StringLike": map[string]interface{}{"s3:prefix": "store/index/*"}},
			testKMSKey)
	})
	t.Run("function", func(t *testing.T) {
		checkFunction(t, s, DefaultMemoryMB, DefaultTimeoutSeconds, map[string]interface{}{
			EnvIndexBucket: "js-cli-index",
			EnvIndexPrefix: "store/index/",
			EnvPackBucket:  "js-cli-packs",
			EnvPackPrefix:  "store/packs/",
			EnvLogLevel:    "info",
		})
	})
	t.Run("url and origin", func(t *testing.T) { checkURLAndOrigin(t, s, DefaultOriginReadTimeoutSeconds) })
	t.Run("distribution without logs", func(t *testing.T) { checkDistribution(t, s, false) })
	t.Run("outputs", func(t *testing.T) {
		checkOutputs(t, s, "IndexPrefix", "PackPrefix")
		outs := s.json["Outputs"].(map[string]interface{})
		for k, want := range map[string]string{
			"IndexBucketName": "js-cli-index", "PackBucketName": "js-cli-packs",
			"IndexPrefix": "store/index/", "PackPrefix": "store/packs/",
		} {
			if got := outs[k].(map[string]interface{})["Value"]; got != want {
				t.Errorf("output %s = %v, want %s", k, got, want)
			}
		}
	})
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

// TestImportedBucketsInRegion is `cdk synth -c indexBucketName=... -c
// packBucketName=...` as the CLI runs it: the stack has a region (the CLI
// falls back to us-east-1), so the imported buckets' ARNs carry a literal
// partition, which the IAM5 suppression must match too.
func TestImportedBucketsInRegion(t *testing.T) {
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		t.Run(region, func(t *testing.T) {
			s := synth(t, map[string]string{
				"indexBucketName": "my-index-bucket",
				"packBucketName":  "my-pack-bucket",
			}, region)
			arn := func(suffix string) string { return canon("arn:aws:s3:::" + suffix) }
			checkLeastPrivilege(t, s, []string{arn("my-index-bucket/*"), arn("my-pack-bucket/*")}, arn("my-index-bucket"), nil)
			checkNoNagFindings(t, s)
		})
	}
}

func TestCreatedBucketsWithPrefixes(t *testing.T) {
	s := synth(t, map[string]string{
		"indexPrefix":       "idx/",
		"packPrefix":        "packs/",
		"accessLogs":        "false",
		"removalPolicy":     "destroy",
		"memorySize":        "2048",
		"timeout":           "300",
		"logLevel":          "DEBUG",
		"originReadTimeout": "30",
		"logRetentionDays":  "7",
		"metricsNamespace":  "HashStream",
	}, "")
	index, pack := bucketID(t, s, "IndexBucket"), bucketID(t, s, "PackBucket")

	t.Run("buckets", func(t *testing.T) {
		checkCreatedBuckets(t, s, "Delete", false)
		if n := len(s.storeResources("AWS::S3::Bucket")); n != 2 {
			t.Errorf("%d buckets, want index and pack only", n)
		}
	})
	t.Run("iam scoped to prefixes", func(t *testing.T) {
		checkLeastPrivilege(t, s,
			[]string{objectsOf(index, "idx/*"), objectsOf(pack, "packs/*")},
			getAttArn(index),
			map[string]interface{}{"StringLike": map[string]interface{}{"s3:prefix": "idx/*"}})
	})
	t.Run("function", func(t *testing.T) {
		checkFunction(t, s, 2048, 300, map[string]interface{}{
			EnvIndexBucket: map[string]interface{}{"Ref": index},
			EnvIndexPrefix: "idx/",
			EnvPackBucket:  map[string]interface{}{"Ref": pack},
			EnvPackPrefix:  "packs/",
			EnvLogLevel:    "debug",
			EnvEMF:         "HashStream",
		})
		_, lg := s.gatewayLogGroup(t)
		if props(lg)["RetentionInDays"] != 7.0 {
			t.Errorf("log retention %v, want 7", props(lg)["RetentionInDays"])
		}
	})
	t.Run("alarms with the EMF metrics", func(t *testing.T) { checkAlarms(t, s, 300, "InUsEast1", true, "") })
	t.Run("url and origin", func(t *testing.T) { checkURLAndOrigin(t, s, 30) })
	t.Run("distribution without logs", func(t *testing.T) { checkDistribution(t, s, false) })
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

func checkCustomDomain(t *testing.T, s *synthesized, domain, zoneID string, cert interface{}) {
	t.Helper()
	distID, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
	dc := props(dist)["DistributionConfig"].(map[string]interface{})
	if canon(dc["Aliases"]) != canon([]string{domain}) {
		t.Errorf("aliases %v, want %s", dc["Aliases"], domain)
	}
	vc := dc["ViewerCertificate"].(map[string]interface{})
	if vc["MinimumProtocolVersion"] != "TLSv1.2_2025" || vc["SslSupportMethod"] != "sni-only" {
		t.Errorf("viewer certificate %v, want TLSv1.2_2025 over SNI", vc)
	}
	if canon(vc["AcmCertificateArn"]) != canon(cert) {
		t.Errorf("certificate %s, want %s", canon(vc["AcmCertificateArn"]), canon(cert))
	}
	var types []string
	for _, r := range s.resources("AWS::Route53::RecordSet") {
		p := props(r)
		types = append(types, fmt.Sprint(p["Type"]))
		if p["Name"] != domain+"." || p["HostedZoneId"] != zoneID {
			t.Errorf("record %v in %v, want %s. in %s", p["Name"], p["HostedZoneId"], domain, zoneID)
		}
		if !strings.Contains(canon(p["AliasTarget"]), `"`+distID+`","DomainName"`) {
			t.Errorf("record alias %s, want the distribution", canon(p["AliasTarget"]))
		}
	}
	sort.Strings(types)
	if !reflect.DeepEqual(types, []string{"A", "AAAA"}) {
		t.Errorf("alias records %v, want A and AAAA", types)
	}
	outs := s.json["Outputs"].(map[string]interface{})
	if o, _ := outs["CustomDomainUrl"].(map[string]interface{}); o == nil || o["Value"] != "https://"+domain {
		t.Errorf("CustomDomainUrl output %v", outs["CustomDomainUrl"])
	}
}

func TestCustomDomainInUSEast1(t *testing.T) {
	s := synth(t, map[string]string{
		"domainName":     "ipfs.example.org",
		"hostedZoneId":   "Z0123456789ABCDEFGHIJ",
		"hostedZoneName": "example.org",
	}, "us-east-1")
	certID, cert := s.onlyResource(t, "AWS::CertificateManager::Certificate")

	t.Run("certificate", func(t *testing.T) {
		p := props(cert)
		if p["DomainName"] != "ipfs.example.org" || p["ValidationMethod"] != "DNS" {
			t.Errorf("certificate %v", p)
		}
		if !strings.Contains(canon(p["DomainValidationOptions"]), `"HostedZoneId":"Z0123456789ABCDEFGHIJ"`) {
			t.Errorf("certificate validation %s, want DNS in the hosted zone", canon(p["DomainValidationOptions"]))
		}
	})
	t.Run("distribution and records", func(t *testing.T) {
		checkCustomDomain(t, s, "ipfs.example.org", "Z0123456789ABCDEFGHIJ", map[string]interface{}{"Ref": certID})
		checkDistribution(t, s, true)
		checkOutputs(t, s, "CustomDomainUrl")
	})
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

func TestCustomDomainWithCertificateArn(t *testing.T) {
	const arn = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
	s := synth(t, map[string]string{
		"domainName":     "ipfs.example.org",
		"hostedZoneId":   "Z0123456789ABCDEFGHIJ",
		"certificateArn": arn,
		"webAclArn":      "arn:aws:wafv2:us-east-1:123456789012:global/webacl/gw/abc",
	}, "eu-west-1")

	t.Run("no CloudFront alarm outside us-east-1", func(t *testing.T) {
		checkAlarms(t, s, DefaultTimeoutSeconds, "absent", false, "")
	})
	t.Run("no certificate made", func(t *testing.T) {
		if n := len(s.resources("AWS::CertificateManager::Certificate")); n != 0 {
			t.Errorf("%d certificates made, want the given one", n)
		}
	})
	t.Run("distribution and records", func(t *testing.T) {
		checkCustomDomain(t, s, "ipfs.example.org", "Z0123456789ABCDEFGHIJ", arn)
		_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
		if w := props(dist)["DistributionConfig"].(map[string]interface{})["WebACLId"]; w != "arn:aws:wafv2:us-east-1:123456789012:global/webacl/gw/abc" {
			t.Errorf("WebACLId %v", w)
		}
	})
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

func TestGuardrails(t *testing.T) {
	s := synth(t, map[string]string{
		"reservedConcurrency": "50",
		"waf":                 "true",
		"wafRateLimit":        "500",
		"alarmEmail":          "ops@example.org",
	}, "us-east-1")

	t.Run("alarms notify the topic", func(t *testing.T) {
		topicID, _ := s.onlyResource(t, "AWS::SNS::Topic")
		checkAlarms(t, s, DefaultTimeoutSeconds, "", false, topicID)
		_, sub := s.onlyResource(t, "AWS::SNS::Subscription")
		if p := props(sub); p["Protocol"] != "email" || p["Endpoint"] != "ops@example.org" || canon(p["TopicArn"]) != canon(map[string]interface{}{"Ref": topicID}) {
			t.Errorf("subscription %v, want email to ops@example.org on %s", p, topicID)
		}
		// EnforceSSL: the topic policy denies publishing without TLS.
		must(t, func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), like(
				"PolicyDocument", like("Statement", assertions.Match_ArrayWith(arr(like(
					"Effect", "Deny",
					"Condition", obj("Bool", obj("aws:SecureTransport", "false")),
				)))),
			))
		})
	})

	t.Run("reserved concurrency", func(t *testing.T) {
		_, fn := s.gatewayFunction(t)
		if got := props(fn)["ReservedConcurrentExecutions"]; got != 50.0 {
			t.Errorf("ReservedConcurrentExecutions %v, want 50", got)
		}
	})
	t.Run("web acl", func(t *testing.T) {
		aclID, acl := s.onlyResource(t, "AWS::WAFv2::WebACL")
		p := props(acl)
		if p["Scope"] != "CLOUDFRONT" || canon(p["DefaultAction"]) != `{"Allow":{}}` {
			t.Errorf("web ACL scope %v default %s, want CLOUDFRONT allow", p["Scope"], canon(p["DefaultAction"]))
		}
		rules := p["Rules"].([]interface{})
		if len(rules) != 1 {
			t.Fatalf("%d rules, want the rate rule", len(rules))
		}
		r := rules[0].(map[string]interface{})
		if r["Name"] != WAFRateRuleName || canon(r["Action"]) != `{"Block":{}}` {
			t.Errorf("rule %v action %s, want %s blocking", r["Name"], canon(r["Action"]), WAFRateRuleName)
		}
		if got := canon(r["Statement"]); got != `{"RateBasedStatement":{"AggregateKeyType":"IP","EvaluationWindowSec":300,"Limit":500}}` {
			t.Errorf("rule statement %s, want 500 per 5 min per IP", got)
		}
		_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
		if got := canon(props(dist)["DistributionConfig"].(map[string]interface{})["WebACLId"]); got != getAttArn(aclID) {
			t.Errorf("distribution WebACLId %s, want %s", got, getAttArn(aclID))
		}
	})
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

func TestWAFDefaultRate(t *testing.T) {
	s := synth(t, map[string]string{"waf": "true"}, "us-east-1")
	_, acl := s.onlyResource(t, "AWS::WAFv2::WebACL")
	r := props(acl)["Rules"].([]interface{})[0].(map[string]interface{})
	if got := r["Statement"].(map[string]interface{})["RateBasedStatement"].(map[string]interface{})["Limit"]; got != float64(DefaultWAFRateLimit) {
		t.Errorf("rate limit %v, want %d", got, DefaultWAFRateLimit)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    map[string]string
		region string
		want   string
	}{
		{"certificate outside us-east-1", map[string]string{"domainName": "gw.example.org", "hostedZoneId": "Z1"}, "eu-west-1", "us-east-1"},
		{"certificate without region", map[string]string{"domainName": "gw.example.org", "hostedZoneId": "Z1"}, "", "us-east-1"},
		{"domain without zone", map[string]string{"domainName": "gw.example.org", "certificateArn": "arn:x"}, "", "hostedZoneId"},
		{"zone without domain", map[string]string{"hostedZoneId": "Z1"}, "", "need domainName"},
		{"memory", map[string]string{"memorySize": "lots"}, "", "memorySize"},
		{"timeout", map[string]string{"timeout": "901"}, "", "timeout"},
		{"removal policy", map[string]string{"removalPolicy": "snapshot"}, "", "removalPolicy"},
		{"access logs", map[string]string{"accessLogs": "maybe"}, "", "accessLogs"},
		{"wildcard prefix", map[string]string{"indexPrefix": "a*"}, "", "indexPrefix"},
		{"log level", map[string]string{"logLevel": "loud"}, "", "logLevel"},
		{"reserved concurrency 0", map[string]string{"reservedConcurrency": "0"}, "", "reservedConcurrency"},
		{"reserved concurrency above max", map[string]string{"reservedConcurrency": "10001"}, "", "reservedConcurrency"},
		{"waf outside us-east-1", map[string]string{"waf": "true"}, "eu-west-1", "us-east-1"},
		{"waf without region", map[string]string{"waf": "true"}, "", "us-east-1"},
		{"waf and webAclArn", map[string]string{"waf": "true", "webAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/gw/abc"}, "us-east-1", "one of them"},
		{"waf rate without waf", map[string]string{"wafRateLimit": "100"}, "", "needs waf=true"},
		{"waf rate below min", map[string]string{"waf": "true", "wafRateLimit": "9"}, "us-east-1", "wafRateLimit"},
		{"waf rate above max", map[string]string{"waf": "true", "wafRateLimit": "2000000001"}, "us-east-1", "wafRateLimit"},
		{"alarm email without alarms", map[string]string{"alarms": "false", "alarmEmail": "ops@example.org"}, "", "needs alarms=true"},
		{"alarm email not an address", map[string]string{"alarmEmail": "ops"}, "", "alarmEmail"},
		{"two alarm emails", map[string]string{"alarmEmail": "a@example.org,b@example.org"}, "", "alarmEmail"},
		{"alarms not a bool", map[string]string{"alarms": "sometimes"}, "", "alarms"},
		{"kms key not an ARN", map[string]string{"indexBucketName": "b", "kmsKeyArn": "alias/mine"}, "", "kmsKeyArn"},
		{"kms key on made buckets", map[string]string{"kmsKeyArn": testKMSKey}, "", "imported SSE-KMS buckets"},
		{"missing bootstrap", map[string]string{"lambdaDir": "/nonexistent/lambda"}, "", "make build-lambda"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.ctx, tc.region)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestContextKeysDocumented(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ContextKeys {
		if !strings.Contains(string(b), "`"+k+"`") {
			t.Errorf("context key %s is not in infra/README.md", k)
		}
	}
}

// TestPackPrefixDefault: a pack bucket the stack makes gets
// DefaultPackPrefix; an empty packPrefix keeps packs at the bucket's root
// (stacks made before the default); an imported bucket gets none.
func TestPackPrefixDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]string
		want string
	}{
		{"made", nil, DefaultPackPrefix},
		{"made, empty on purpose", map[string]string{"packPrefix": ""}, ""},
		{"made, given", map[string]string{"packPrefix": "store/"}, "store/"},
		{"imported", map[string]string{"packBucketName": "their-packs"}, ""},
		{"imported, given", map[string]string{"packBucketName": "their-packs", "packPrefix": "p/"}, "p/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, tc.ctx, "")
			if s.cfg.PackPrefix != tc.want {
				t.Errorf("pack prefix %q, want %q", s.cfg.PackPrefix, tc.want)
			}
			_, fn := s.gatewayFunction(t)
			if got := props(fn)["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})[EnvPackPrefix]; got != tc.want {
				t.Errorf("%s = %v, want %q", EnvPackPrefix, got, tc.want)
			}
		})
	}
}
