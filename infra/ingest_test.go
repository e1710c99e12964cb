package main

import (
	"debug/elf"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// ingestCtx is ctx with ingest=true and the tests' dummy indexer bootstrap.
func ingestCtx(ctx map[string]string) map[string]string {
	out := map[string]string{"ingest": "true", "indexerLambdaDir": lambdaDir}
	for k, v := range ctx {
		out[k] = v
	}
	return out
}

// byID returns the one resource of type typ whose logical ID starts with
// prefix (the construct id).
func (s *synthesized) byID(t *testing.T, typ, prefix string) (string, map[string]interface{}) {
	t.Helper()
	var id string
	var res map[string]interface{}
	for k, r := range s.resources(typ) {
		if strings.HasPrefix(k, prefix) {
			if id != "" {
				t.Fatalf("two %s %s*: %s and %s", typ, prefix, id, k)
			}
			id, res = k, r
		}
	}
	if id == "" {
		t.Fatalf("no %s %s* among %v", typ, prefix, keys(s.resources(typ)))
	}
	return id, res
}

// sameStatements compares statements as sets, actions in any order.
func sameStatements(t *testing.T, what string, got, want []statement) {
	t.Helper()
	norm := func(sts []statement) []string {
		var out []string
		for _, st := range sts {
			st.Actions = append([]string(nil), st.Actions...)
			sort.Strings(st.Actions)
			out = append(out, canon(st))
		}
		sort.Strings(out)
		return out
	}
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s statements\n got %s\nwant %s", what, strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
}

func allowed(actions []string, cond interface{}, resources ...string) statement {
	sort.Strings(resources)
	return statement{Effect: "Allow", Actions: actions, Resources: resources, Condition: cond}
}

var prefixCond = func(p string) interface{} {
	return map[string]interface{}{"StringLike": map[string]interface{}{"s3:prefix": p}}
}

var kmsCond = map[string]interface{}{"StringLike": map[string]interface{}{"kms:ViaService": "s3.*.amazonaws.com"}}

// roleStatements returns the inline statements of the role with construct
// id prefix, and those of the AWS::IAM::Policy resources attached to it.
func (s *synthesized) roleStatements(t *testing.T, prefix string) (inline, attached []statement) {
	t.Helper()
	id, role := s.byID(t, "AWS::IAM::Role", prefix)
	ps, _ := props(role)["Policies"].([]interface{})
	for _, p := range ps {
		inline = append(inline, docStatements(p.(map[string]interface{})["PolicyDocument"])...)
	}
	for _, p := range s.resources("AWS::IAM::Policy") {
		if strings.Contains(canon(props(p)["Roles"]), `{"Ref":"`+id+`"}`) {
			attached = append(attached, docStatements(props(p)["PolicyDocument"])...)
		}
	}
	return inline, attached
}

// stores names the resources of one variant's buckets as the template
// renders them: object wildcards and bucket ARNs.
type stores struct {
	objects func(bucket, pattern string) string // bucket: "index" or "pack"
	bucket  func(bucket string) string
}

func madeStores(t *testing.T, s *synthesized) stores {
	ids := map[string]string{"index": bucketID(t, s, "IndexBucket"), "pack": bucketID(t, s, "PackBucket")}
	return stores{
		objects: func(b, p string) string { return objectsOf(ids[b], p) },
		bucket:  func(b string) string { return getAttArn(ids[b]) },
	}
}

func importedStores(names map[string]string, literal bool) stores {
	arn := func(suffix string) string {
		if literal {
			return canon("arn:aws:s3:::" + suffix)
		}
		return importedArn(suffix)
	}
	return stores{
		objects: func(b, p string) string { return arn(names[b] + "/" + p) },
		bucket:  func(b string) string { return arn(names[b]) },
	}
}

// wantIndexer is the indexer's inline policy for cfg's prefixes.
func wantIndexer(st stores, cfg Config, logGroupID string) []statement {
	var listCond interface{}
	if cfg.IndexPrefix != "" {
		listCond = prefixCond(cfg.IndexPrefix + "*")
	}
	want := []statement{
		allowed([]string{"s3:GetObject", "s3:DeleteObject"}, nil, st.objects("pack", cfg.IngestPrefix+"*")),
		allowed([]string{"s3:PutObject", "s3:AbortMultipartUpload"}, nil, st.objects("pack", cfg.RejectedPrefix+"*")),
		allowed([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}, nil, st.objects("pack", cfg.PackPrefix+"*")),
		allowed([]string{"s3:GetObject", "s3:PutObject"}, nil, st.objects("index", cfg.IndexPrefix+"*")),
		allowed([]string{"s3:ListBucket"}, listCond, st.bucket("index")),
		allowed([]string{"s3:ListBucket"}, nil, st.bucket("pack")),
		allowed([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, nil, getAttArn(logGroupID)),
	}
	if cfg.KMSKeyArn != "" {
		want = append(want, allowed([]string{"kms:Decrypt", "kms:GenerateDataKey"}, kmsCond, canon(cfg.KMSKeyArn)))
	}
	return want
}

// wantWriter is the writer policy for cfg.
func wantWriter(st stores, cfg Config) []statement {
	var listCond interface{}
	if cfg.IndexPrefix != "" {
		listCond = prefixCond(cfg.IndexPrefix + "*")
	}
	want := []statement{
		allowed([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}, nil,
			st.objects("index", cfg.IndexPrefix+"*"), st.objects("pack", cfg.PackPrefix+"*")),
		allowed([]string{"s3:ListBucket"}, listCond, st.bucket("index")),
		allowed([]string{"s3:ListBucket"}, nil, st.bucket("pack")),
	}
	if cfg.Ingest {
		want = append(want, allowed([]string{"s3:PutObject", "s3:AbortMultipartUpload"}, nil, st.objects("pack", cfg.IngestPrefix+"*")))
	}
	if cfg.KMSKeyArn != "" {
		want = append(want, allowed([]string{"kms:Decrypt", "kms:GenerateDataKey"}, kmsCond, canon(cfg.KMSKeyArn)))
	}
	return want
}

// checkWriterPolicy: the one managed policy is the writers', with exactly
// want, and the WriterPolicyArn output names it.
func checkWriterPolicy(t *testing.T, s *synthesized, want []statement) {
	t.Helper()
	id, p := s.onlyResource(t, "AWS::IAM::ManagedPolicy")
	sameStatements(t, "writer policy", docStatements(props(p)["PolicyDocument"]), want)
	if props(p)["Roles"] != nil || props(p)["Users"] != nil || props(p)["Groups"] != nil {
		t.Errorf("writer policy attached by the stack: %v", props(p))
	}
	out, _ := s.json["Outputs"].(map[string]interface{})["WriterPolicyArn"].(map[string]interface{})
	if out == nil || canon(out["Value"]) != canon(map[string]interface{}{"Ref": id}) {
		t.Errorf("WriterPolicyArn output %v, want a Ref to %s", out, id)
	}
}

// checkNoIngest: with ingest off, nothing of it is in the template.
func checkNoIngest(t *testing.T, s *synthesized) {
	t.Helper()
	for id := range s.resources("AWS::Lambda::Function") {
		if !strings.HasPrefix(id, "GatewayFunction") && !strings.HasPrefix(id, awsCustomResourceProviderID) && !isHeal(id) {
			t.Errorf("function %s, want the gateway's only (and the initial takedowns list's)", id)
		}
	}
	for _, typ := range []string{"Custom::S3BucketNotifications", "AWS::SQS::Queue", "AWS::Lambda::EventInvokeConfig"} {
		if n := len(s.resources(typ)); n != 0 {
			t.Errorf("%d %s with ingest off", n, typ)
		}
	}
	for id, p := range s.resources("AWS::Lambda::Permission") {
		if props(p)["Principal"] == "s3.amazonaws.com" {
			t.Errorf("permission %s lets S3 invoke a function with ingest off", id)
		}
	}
	for _, k := range []string{"IngestLocation", "RejectedLocation", "IndexerFunctionName", "IndexerLogGroupName", "IngestFailureQueueUrl"} {
		if s.json["Outputs"].(map[string]interface{})[k] != nil {
			t.Errorf("output %s with ingest off", k)
		}
	}
}

// checkIndexer checks the indexer function, its log group, async config,
// failure queue and S3 notification; bucket is the pack bucket's name as
// the template renders it, managed whether the stack made it.
func checkIndexer(t *testing.T, s *synthesized, cfg Config, env map[string]interface{}, bucket interface{}, managed bool) (fnID, queueID string) {
	t.Helper()
	fnID, fn := s.byID(t, "AWS::Lambda::Function", "IndexerFunction")
	p := props(fn)
	for k, want := range map[string]interface{}{
		"Runtime":       "provided.al2023",
		"Architectures": []interface{}{cfg.Architecture},
		"Handler":       "bootstrap",
		"MemorySize":    float64(cfg.IndexerMemoryMB),
		"Timeout":       float64(cfg.IndexerTimeoutSeconds),
	} {
		if !reflect.DeepEqual(p[k], want) {
			t.Errorf("indexer %s = %v, want %v", k, p[k], want)
		}
	}
	if got := canon(p["Environment"].(map[string]interface{})["Variables"]); got != canon(env) {
		t.Errorf("indexer environment\n got %s\nwant %s", got, canon(env))
	}
	var wantConc interface{}
	if cfg.IndexerConcurrency > 0 {
		wantConc = float64(cfg.IndexerConcurrency)
	}
	if p["ReservedConcurrentExecutions"] != wantConc {
		t.Errorf("indexer ReservedConcurrentExecutions %v, want %v", p["ReservedConcurrentExecutions"], wantConc)
	}
	lgID, lg := s.byID(t, "AWS::Logs::LogGroup", "IndexerLogGroup")
	if props(lg)["RetentionInDays"] == nil {
		t.Error("indexer log group has no retention")
	}
	if canon(p["LoggingConfig"]) != canon(map[string]interface{}{"LogGroup": map[string]interface{}{"Ref": lgID}}) {
		t.Errorf("indexer logs to %v, want %s", p["LoggingConfig"], lgID)
	}
	roleID, _ := s.byID(t, "AWS::IAM::Role", "IndexerRole")
	if canon(p["Role"]) != getAttArn(roleID) {
		t.Errorf("indexer role %v, want %s", p["Role"], roleID)
	}

	// Failures: 2 retries, then the queue.
	queueID, q := s.byID(t, "AWS::SQS::Queue", "IngestFailureQueue")
	_, eic := s.onlyResource(t, "AWS::Lambda::EventInvokeConfig")
	want := canon(map[string]interface{}{
		"DestinationConfig":        map[string]interface{}{"OnFailure": map[string]interface{}{"Destination": map[string]interface{}{"Fn::GetAtt": []interface{}{queueID, "Arn"}}}},
		"FunctionName":             map[string]interface{}{"Ref": fnID},
		"MaximumEventAgeInSeconds": IndexerMaxEventAgeHours * 3600,
		"MaximumRetryAttempts":     IndexerRetryAttempts,
		"Qualifier":                "$LATEST",
	})
	if got := canon(props(eic)); got != want {
		t.Errorf("event invoke config\n got %s\nwant %s", got, want)
	}
	if IndexerRetryAttempts != 2 {
		t.Errorf("IndexerRetryAttempts = %d, the contract says 2", IndexerRetryAttempts)
	}
	if got := canon(props(q)); got != `{"MessageRetentionPeriod":1209600,"SqsManagedSseEnabled":true}` {
		t.Errorf("failure queue %s, want SSE-SQS and 14 days", got)
	}
	_, qp := s.onlyResource(t, "AWS::SQS::QueuePolicy")
	wantQP := canon(map[string]interface{}{
		"PolicyDocument": map[string]interface{}{"Statement": []interface{}{map[string]interface{}{
			"Action": "sqs:*", "Condition": map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}},
			"Effect": "Deny", "Principal": map[string]interface{}{"AWS": "*"},
			"Resource": map[string]interface{}{"Fn::GetAtt": []interface{}{queueID, "Arn"}},
		}}, "Version": "2012-10-17"},
		"Queues": []interface{}{map[string]interface{}{"Ref": queueID}},
	})
	if got := canon(props(qp)); got != wantQP {
		t.Errorf("failure queue policy\n got %s\nwant %s (deny without TLS)", got, wantQP)
	}

	// The notification: every ObjectCreated under the ingest prefix.
	_, n := s.onlyResource(t, "Custom::S3BucketNotifications")
	np := props(n)
	if canon(np["BucketName"]) != canon(bucket) || np["Managed"] != managed {
		t.Errorf("notification on %s managed %v, want %s managed %v", canon(np["BucketName"]), np["Managed"], canon(bucket), managed)
	}
	wantN := canon(map[string]interface{}{"LambdaFunctionConfigurations": []interface{}{map[string]interface{}{
		"Events":            []interface{}{"s3:ObjectCreated:*"},
		"Filter":            map[string]interface{}{"Key": map[string]interface{}{"FilterRules": []interface{}{map[string]interface{}{"Name": "prefix", "Value": cfg.IngestPrefix}}}},
		"LambdaFunctionArn": map[string]interface{}{"Fn::GetAtt": []interface{}{fnID, "Arn"}},
	}}})
	if got := canon(np["NotificationConfiguration"]); got != wantN {
		t.Errorf("notification configuration\n got %s\nwant %s", got, wantN)
	}
	var s3Perms int
	for _, perm := range s.resources("AWS::Lambda::Permission") {
		pp := props(perm)
		if pp["Principal"] != "s3.amazonaws.com" {
			continue
		}
		s3Perms++
		if pp["Action"] != "lambda:InvokeFunction" || canon(pp["FunctionName"]) != getAttArn(fnID) || pp["SourceAccount"] == nil {
			t.Errorf("S3 invoke permission %v, want lambda:InvokeFunction on the indexer from this account", pp)
		}
	}
	if s3Perms != 1 {
		t.Errorf("%d permissions for S3 to invoke, want 1", s3Perms)
	}

	outs := s.json["Outputs"].(map[string]interface{})
	for _, k := range []string{"IngestLocation", "RejectedLocation", "IndexerFunctionName", "IndexerLogGroupName", "IngestFailureQueueUrl"} {
		if outs[k] == nil {
			t.Errorf("output %s missing", k)
		}
	}
	return fnID, queueID
}

// checkIngestAlarms: the failure queue alarm always, the errors alarm with
// alarms=true, both notifying topic ("" for none).
func checkIngestAlarms(t *testing.T, s *synthesized, fnID, queueID string, errorsAlarm bool, topic string) {
	t.Helper()
	actions := "null"
	if topic != "" {
		actions = canon([]interface{}{map[string]interface{}{"Ref": topic}})
	}
	check := func(prefix, ns, metric, stat string, threshold float64, op string, dims interface{}) {
		_, a := s.byID(t, "AWS::CloudWatch::Alarm", prefix)
		p := props(a)
		if p["Namespace"] != ns || p["MetricName"] != metric || p["Statistic"] != stat || p["Period"] != 300.0 ||
			p["Threshold"] != threshold || p["ComparisonOperator"] != op || p["TreatMissingData"] != "notBreaching" {
			t.Errorf("%s: %v", prefix, p)
		}
		if canon(p["Dimensions"]) != canon(dims) {
			t.Errorf("%s dimensions %s, want %s", prefix, canon(p["Dimensions"]), canon(dims))
		}
		if canon(p["AlarmActions"]) != actions || canon(p["OKActions"]) != actions {
			t.Errorf("%s actions %v %v, want %s", prefix, p["AlarmActions"], p["OKActions"], actions)
		}
	}
	check("IngestFailuresAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 0, "GreaterThanThreshold",
		[]interface{}{map[string]interface{}{"Name": "QueueName", "Value": map[string]interface{}{"Fn::GetAtt": []interface{}{queueID, "QueueName"}}}})
	var n int
	for id := range s.resources("AWS::CloudWatch::Alarm") {
		if strings.HasPrefix(id, "IndexerErrorsAlarm") {
			n++
		}
	}
	if (n == 1) != errorsAlarm || n > 1 {
		t.Fatalf("%d indexer errors alarms, want one %v", n, errorsAlarm)
	}
	if errorsAlarm {
		check("IndexerErrorsAlarm", "AWS/Lambda", "Errors", "Sum", 1, "GreaterThanOrEqualToThreshold",
			[]interface{}{map[string]interface{}{"Name": "FunctionName", "Value": map[string]interface{}{"Ref": fnID}}})
	}
}

// gatewayPolicies is the gateway role's inline policies, as rendered.
func gatewayPolicies(t *testing.T, s *synthesized) string {
	t.Helper()
	_, role := s.byID(t, "AWS::IAM::Role", "GatewayRole")
	return canon(props(role)["Policies"])
}

func TestIngest(t *testing.T) {
	ctx := map[string]string{"alarmEmail": "ops@example.org"}
	off := synth(t, ctx, "")
	s := synth(t, ingestCtx(ctx), "")
	cfg := s.cfg
	st := madeStores(t, s)
	index, pack := bucketID(t, s, "IndexBucket"), bucketID(t, s, "PackBucket")

	t.Run("off by default", func(t *testing.T) {
		checkNoIngest(t, off)
		checkWriterPolicy(t, off, wantWriter(madeStores(t, off), off.cfg))
	})
	t.Run("indexer", func(t *testing.T) {
		fnID, queueID := checkIndexer(t, s, cfg, map[string]interface{}{
			EnvIndexBucket:    map[string]interface{}{"Ref": index},
			EnvIndexPrefix:    "",
			EnvPackBucket:     map[string]interface{}{"Ref": pack},
			EnvPackPrefix:     DefaultPackPrefix,
			EnvIngestPrefix:   "ingest/",
			EnvRejectedPrefix: "rejected/",
			EnvIndexWriter:    "all",
			EnvLogLevel:       "info",
		}, map[string]interface{}{"Ref": pack}, true)
		topic, _ := s.onlyResource(t, "AWS::SNS::Topic")
		checkIngestAlarms(t, s, fnID, queueID, true, topic)
	})
	t.Run("iam", func(t *testing.T) {
		lg, _ := s.byID(t, "AWS::Logs::LogGroup", "IndexerLogGroup")
		inline, attached := s.roleStatements(t, "IndexerRole")
		sameStatements(t, "indexer role", inline, wantIndexer(st, cfg, lg))
		queueID, _ := s.byID(t, "AWS::SQS::Queue", "IngestFailureQueue")
		sameStatements(t, "indexer role's default policy", attached, []statement{
			allowed([]string{"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}, nil, getAttArn(queueID)),
		})
		if got, want := gatewayPolicies(t, s), gatewayPolicies(t, off); got != want {
			t.Errorf("gateway role changed by ingest=true:\n got %s\nwant %s", got, want)
		}
		// CDK's notifications handler: its managed basic execution policy
		// and the bucket's notification configuration, nothing else.
		inline, attached = s.roleStatements(t, "BucketNotificationsHandler")
		sameStatements(t, "notifications handler", append(inline, attached...), []statement{
			allowed([]string{"s3:PutBucketNotification"}, nil, getAttArn(pack)),
		})
	})
	t.Run("writer policy", func(t *testing.T) { checkWriterPolicy(t, s, wantWriter(st, cfg)) })
	t.Run("outputs", func(t *testing.T) {
		out := s.json["Outputs"].(map[string]interface{})["IngestLocation"].(map[string]interface{})
		want := canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{"s3://", map[string]interface{}{"Ref": pack}, "/ingest/"}}})
		if canon(out["Value"]) != want {
			t.Errorf("IngestLocation %s, want %s", canon(out["Value"]), want)
		}
	})
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

func TestIngestImportedBuckets(t *testing.T) {
	ctx := ingestCtx(map[string]string{
		"indexBucketName": "js-cli-index", "packBucketName": "js-cli-packs",
		"indexPrefix": "store/index/", "packPrefix": "store/packs/",
		"ingestPrefix": "drop/", "rejectedPrefix": "bad/",
		"indexWriter": "single-level", "indexerMemorySize": "2048", "indexerTimeout": "600", "indexerConcurrency": "5",
		"logLevel": "debug", "kmsKeyArn": testKMSKey, "accessLogs": "false", "alarms": "false",
	})
	names := map[string]string{"index": "js-cli-index", "pack": "js-cli-packs"}
	for _, region := range []string{"", "eu-west-1"} {
		t.Run("region "+region, func(t *testing.T) {
			s := synth(t, ctx, region)
			cfg := s.cfg
			st := importedStores(names, region != "")
			fnID, queueID := checkIndexer(t, s, cfg, map[string]interface{}{
				EnvIndexBucket:    "js-cli-index",
				EnvIndexPrefix:    "store/index/",
				EnvPackBucket:     "js-cli-packs",
				EnvPackPrefix:     "store/packs/",
				EnvIngestPrefix:   "drop/",
				EnvRejectedPrefix: "bad/",
				EnvIndexWriter:    "single-level",
				EnvLogLevel:       "debug",
			}, "js-cli-packs", false)
			// alarms=false: the failure queue's alarm stays, without a topic.
			checkIngestAlarms(t, s, fnID, queueID, false, "")
			if n := len(s.resources("AWS::CloudWatch::Alarm")); n != 1 {
				t.Errorf("%d alarms with alarms=false, want the failure queue's only", n)
			}
			lg, _ := s.byID(t, "AWS::Logs::LogGroup", "IndexerLogGroup")
			inline, _ := s.roleStatements(t, "IndexerRole")
			sameStatements(t, "indexer role", inline, wantIndexer(st, cfg, lg))
			inline, attached := s.roleStatements(t, "BucketNotificationsHandler")
			sameStatements(t, "notifications handler", append(inline, attached...), []statement{
				allowed([]string{"s3:GetBucketNotification", "s3:PutBucketNotification"}, nil, st.bucket("pack")),
			})
			checkWriterPolicy(t, s, wantWriter(st, cfg))
			for _, typ := range []string{"AWS::S3::Bucket", "AWS::S3::BucketPolicy"} {
				if n := len(s.storeResources(typ)); n != 0 {
					t.Errorf("%d %s: the stack changes only the imported bucket's notifications", n, typ)
				}
			}
			if got := s.json["Outputs"].(map[string]interface{})["IngestLocation"].(map[string]interface{})["Value"]; got != "s3://js-cli-packs/drop/" {
				t.Errorf("IngestLocation %v", got)
			}
			checkNoNagFindings(t, s)
		})
	}
}

// indexerLambdaDir, a build path like lambdaDir, may be passed without
// ingest=true (the Makefile passes both to every synth); nothing of the
// indexer is made then, and its folder is not even looked at.
func TestIndexerDirWithoutIngest(t *testing.T) {
	s := synth(t, map[string]string{"indexerLambdaDir": "/nonexistent/indexer"}, "")
	checkNoIngest(t, s)
}

// Ingest works beside compute=ecs: the indexer is a Lambda function either way.
func TestIngestWithECS(t *testing.T) {
	s := synth(t, ingestCtx(ecsCtx(t)), "eu-west-1")
	fnID, queueID := checkIndexer(t, s, s.cfg, map[string]interface{}{
		EnvIndexBucket:    map[string]interface{}{"Ref": bucketID(t, s, "IndexBucket")},
		EnvIndexPrefix:    "",
		EnvPackBucket:     map[string]interface{}{"Ref": bucketID(t, s, "PackBucket")},
		EnvPackPrefix:     DefaultPackPrefix,
		EnvIngestPrefix:   "ingest/",
		EnvRejectedPrefix: "rejected/",
		EnvIndexWriter:    "all",
		EnvLogLevel:       "info",
	}, map[string]interface{}{"Ref": bucketID(t, s, "PackBucket")}, true)
	checkIngestAlarms(t, s, fnID, queueID, true, "")
	checkNoNagFindings(t, s)
}

// The writer policy of a stack without ingest, on imported buckets with
// prefixes and a KMS key (TestIngest checks the default one).
func TestWriterPolicyImported(t *testing.T) {
	s := synth(t, map[string]string{
		"indexBucketName": "my-index", "packBucketName": "my-packs", "indexPrefix": "i/", "packPrefix": "p/",
		"kmsKeyArn": testKMSKey, "accessLogs": "false", "alarms": "false",
	}, "")
	checkNoIngest(t, s)
	checkWriterPolicy(t, s, wantWriter(importedStores(map[string]string{"index": "my-index", "pack": "my-packs"}, false), s.cfg))
	checkNoNagFindings(t, s)
}

func TestIngestArchitecture(t *testing.T) {
	armDir, amdDir := elfBootstrap(t, elf.EM_AARCH64), elfBootstrap(t, elf.EM_X86_64)
	for _, tc := range []struct {
		arch    string
		dir     string
		machine elf.Machine
	}{
		{"arm64", armDir, elf.EM_AARCH64},
		{"x86_64", amdDir, elf.EM_X86_64},
	} {
		s := synth(t, map[string]string{"architecture": tc.arch, "lambdaDir": tc.dir, "ingest": "true", "indexerLambdaDir": tc.dir}, "")
		_, fn := s.byID(t, "AWS::Lambda::Function", "IndexerFunction")
		if got := props(fn)["Architectures"]; !reflect.DeepEqual(got, []interface{}{tc.arch}) {
			t.Errorf("%s: indexer Architectures %v", tc.arch, got)
		}
		if m := stagedMachine(t, s, fn); m != tc.machine {
			t.Errorf("%s: indexer code built for %v, want %v", tc.arch, m, tc.machine)
		}
	}
	_, err := build(t, map[string]string{"architecture": "x86_64", "lambdaDir": amdDir, "ingest": "true", "indexerLambdaDir": armDir}, "")
	if want := "indexer code: " + armDir + "/bootstrap is built for EM_AARCH64, architecture=x86_64 needs EM_X86_64: run `make build-lambda` and pass -c indexerLambdaDir=" + DefaultIndexerLambdaDirX86_64; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("amd64 indexer dir with an arm64 bootstrap: %v, want %q", err, want)
	}
	for arch, want := range map[string]string{"": DefaultIndexerLambdaDir, "arm64": DefaultIndexerLambdaDir, "x86_64": DefaultIndexerLambdaDirX86_64} {
		ctx := map[string]interface{}{"ingest": "true"}
		if arch != "" {
			ctx["architecture"] = arch
		}
		cfg, err := ConfigFromContext(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}).Node())
		if err != nil {
			t.Fatalf("architecture=%q: %v", arch, err)
		}
		if cfg.IndexerLambdaDir != want {
			t.Errorf("architecture=%q: indexerLambdaDir %q, want %q", arch, cfg.IndexerLambdaDir, want)
		}
	}
}

func TestIngestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]string
		want string
	}{
		{"prefix without ingest", map[string]string{"ingestPrefix": "drop/"}, "ingestPrefix needs ingest=true"},
		{"concurrency without ingest", map[string]string{"indexerConcurrency": "5"}, "indexerConcurrency needs ingest=true"},
		{"no trailing slash", ingestCtx(map[string]string{"ingestPrefix": "ingest"}), `ingestPrefix="ingest": want a non-empty key prefix ending in /`},
		{"leading slash", ingestCtx(map[string]string{"rejectedPrefix": "/rejected/"}), `rejectedPrefix="/rejected/"`},
		{"wildcard", ingestCtx(map[string]string{"ingestPrefix": "in*/"}), `ingestPrefix="in*/"`},
		{"double slash", ingestCtx(map[string]string{"ingestPrefix": "a//"}), `ingestPrefix="a//"`},
		{"same prefixes", ingestCtx(map[string]string{"ingestPrefix": "x/", "rejectedPrefix": "x/"}), "overlap"},
		{"rejected inside ingest", ingestCtx(map[string]string{"rejectedPrefix": "ingest/rejected/"}), "overlap"},
		{"ingest inside rejected", ingestCtx(map[string]string{"ingestPrefix": "rejected/in/"}), "overlap"},
		{"packs inside ingest", ingestCtx(map[string]string{"packPrefix": "ingest/packs/"}), `packPrefix="ingest/packs/" is inside ingestPrefix="ingest/"`},
		{"packs inside rejected", ingestCtx(map[string]string{"packPrefix": "rejected/"}), `packPrefix="rejected/" is inside rejectedPrefix="rejected/"`},
		// Packs at the bucket's root (an empty packPrefix; made buckets put
		// them under DefaultPackPrefix, where no ingest name can collide).
		{"ingest shaped like a pack key", ingestCtx(map[string]string{"packPrefix": "", "ingestPrefix": "bafkreigh2akiscaildc/"}), "could be a pack key"},
		{"rejected shaped like a pack key under the pack prefix", ingestCtx(map[string]string{"packPrefix": "p/", "rejectedPrefix": "p/bulk/"}), `first segment after packPrefix="p/", "bulk", could be a pack key`},
		{"index inside ingest in a shared bucket", ingestCtx(map[string]string{
			"indexBucketName": "shared", "packBucketName": "shared", "indexPrefix": "ingest/idx/", "packPrefix": "packs/",
		}), `indexPrefix="ingest/idx/" is inside ingestPrefix="ingest/"`},
		{"index writer", ingestCtx(map[string]string{"indexWriter": "both"}), `indexWriter="both"`},
		{"memory", ingestCtx(map[string]string{"indexerMemorySize": "64"}), "indexerMemorySize"},
		{"timeout", ingestCtx(map[string]string{"indexerTimeout": "901"}), "indexerTimeout"},
		{"concurrency", ingestCtx(map[string]string{"indexerConcurrency": "0"}), "indexerConcurrency"},
		{"ingest not a bool", map[string]string{"ingest": "yes please"}, "ingest"},
		{"missing indexer bootstrap", ingestCtx(map[string]string{"indexerLambdaDir": "/nonexistent/indexer"}),
			"indexer code: /nonexistent/indexer/bootstrap not found: run `make build-lambda` or pass -c indexerLambdaDir="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.ctx, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// Prefixes that share the pack bucket without overlapping are accepted.
func TestIngestPrefixesAccepted(t *testing.T) {
	for _, ctx := range []map[string]string{
		{},
		{"packPrefix": "p/", "ingestPrefix": "p/in/", "rejectedPrefix": "p/out/"},
		{"packPrefix": "packs/", "ingestPrefix": "bulk/"}, // outside the pack prefix: any name
		{"ingestPrefix": "b-side/"},                       // "-" is no base32 letter
		{"indexBucketName": "shared", "packBucketName": "shared", "indexPrefix": "idx/", "packPrefix": "packs/"},
	} {
		cfg := Config{
			Compute: ComputeLambda, Architecture: ArchARM64, RemovalPolicy: "retain", PriceClass: "100", LogLevel: "info",
			Ingest: true, IngestPrefix: DefaultIngestPrefix, RejectedPrefix: DefaultRejectedPrefix, IndexWriter: DefaultIndexWriter,
			IndexBucketName: ctx["indexBucketName"], PackBucketName: ctx["packBucketName"],
			IndexPrefix: ctx["indexPrefix"], PackPrefix: ctx["packPrefix"],
		}
		if v := ctx["ingestPrefix"]; v != "" {
			cfg.IngestPrefix = v
		}
		if v := ctx["rejectedPrefix"]; v != "" {
			cfg.RejectedPrefix = v
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%v: %v", ctx, err)
		}
	}
}
