package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
)

// gatewayFunction is the gateway's function (the stack may have others:
// CDK's custom resource functions, the indexer).
func (s *synthesized) gatewayFunction(t *testing.T) (string, map[string]interface{}) {
	t.Helper()
	return s.byID(t, "AWS::Lambda::Function", "GatewayFunction")
}

// gatewayLogGroup is the gateway's log group (function or ECS tasks).
func (s *synthesized) gatewayLogGroup(t *testing.T) (string, map[string]interface{}) {
	t.Helper()
	return s.byID(t, "AWS::Logs::LogGroup", "GatewayLogGroup")
}

// storeResources are the resources of typ but the denylist bucket's (and
// its policy): what the stack makes of the stores.
func (s *synthesized) storeResources(typ string) map[string]map[string]interface{} {
	out := s.resources(typ)
	for id := range out {
		if strings.HasPrefix(id, "DenylistBucket") {
			delete(out, id)
		}
	}
	return out
}

// denylistBucketRef is how the template names the lists' bucket: the made
// bucket's logical ID, or the imported one's name.
func denylistBucketRef(t *testing.T, s *synthesized) (arn, objects, name interface{}) {
	t.Helper()
	if bucket, prefix, ok := parseDenylistLocation(s.cfg.Denylist); ok {
		join := func(suffix string) interface{} {
			return map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
				"arn:", map[string]interface{}{"Ref": "AWS::Partition"}, ":s3:::" + suffix}}}
		}
		if s.stack.Region() != nil && !strings.HasPrefix(*s.stack.Region(), "${Token") {
			lit := func(suffix string) interface{} { return "arn:aws:s3:::" + suffix }
			return lit(bucket), lit(bucket + "/" + prefix + "*"), bucket
		}
		return join(bucket), join(bucket + "/" + prefix + "*"), bucket
	}
	id := bucketID(t, s, "DenylistBucket")
	return map[string]interface{}{"Fn::GetAtt": []interface{}{id, "Arn"}},
		map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{id, "Arn"}}, "/" + DenylistPrefix + "*"}}},
		map[string]interface{}{"Ref": id}
}

// wantDenylistStatements are the gateway's grants on the lists (none with
// denylist=false), one resource each.
func wantDenylistStatements(t *testing.T, s *synthesized) []statement {
	t.Helper()
	if s.cfg.Denylist == DenylistOff {
		return nil
	}
	arn, objects, _ := denylistBucketRef(t, s)
	var cond interface{}
	if p := s.stack.Denylist.Prefix; p != "" {
		cond = map[string]interface{}{"StringLike": map[string]interface{}{"s3:prefix": p + "*"}}
	}
	return []statement{
		{"Allow", []string{"s3:GetObject"}, []string{canon(objects)}, nil},
		{"Allow", []string{"s3:ListBucket"}, []string{canon(arn)}, cond},
	}
}

// isDenylistStatement tells the lists' grants from the stores'.
func isDenylistStatement(t *testing.T, s *synthesized, st statement) bool {
	t.Helper()
	for _, w := range wantDenylistStatements(t, s) {
		if reflect.DeepEqual(st.Actions, w.Actions) && reflect.DeepEqual(st.Resources, w.Resources) {
			return true
		}
	}
	return false
}

// checkDenylistGrants: the role's statements hold exactly the lists'
// read-only grants.
func checkDenylistGrants(t *testing.T, s *synthesized, got []statement) {
	t.Helper()
	var found []statement
	for _, st := range got {
		if isDenylistStatement(t, s, st) {
			found = append(found, statement{st.Effect, st.Actions, st.Resources, normJSON(st.Condition)})
		}
	}
	want := wantDenylistStatements(t, s)
	for i := range want {
		want[i].Condition = normJSON(want[i].Condition)
	}
	if canon(found) != canon(want) {
		t.Errorf("denylist grants\n%s\nwant\n%s", canon(found), canon(want))
	}
}

func normJSON(v interface{}) interface{} {
	if v == nil {
		return nil
	}
	return canon(v)
}

// withDenylistEnv is env plus the HASH_STREAM_DENYLIST the stack sets.
func withDenylistEnv(t *testing.T, s *synthesized, env map[string]interface{}) map[string]interface{} {
	t.Helper()
	if s.cfg.Denylist == DenylistOff {
		return env
	}
	out := map[string]interface{}{}
	for k, v := range env {
		out[k] = v
	}
	if bucket, prefix, ok := parseDenylistLocation(s.cfg.Denylist); ok {
		out[EnvDenylist] = "s3://" + bucket + "/" + prefix
	} else {
		out[EnvDenylist] = map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
			"s3://", map[string]interface{}{"Ref": bucketID(t, s, "DenylistBucket")}, "/" + DenylistPrefix}}}
	}
	return out
}

// TestInitialTakedowns: the list the stack starts with is the one
// `hash-stream deny` starts, and it parses (a list the gateway refuses
// would stop it from starting).
func TestInitialTakedowns(t *testing.T) {
	if got := string(denylist.NewTakedowns()); got != InitialTakedowns {
		t.Errorf("InitialTakedowns differs from denylist.NewTakedowns():\n%s\nwant\n%s", InitialTakedowns, got)
	}
	if _, err := denylist.Parse(strings.NewReader(InitialTakedowns), TakedownsListName); err != nil {
		t.Fatalf("InitialTakedowns does not parse: %v", err)
	}
}

// checkInitialTakedowns: the stack writes InitialTakedowns to
// <prefix>takedowns.deny only when no object is there, with a role that
// may put that one key, and the gateway (function or ECS service) waits
// for it.
func checkInitialTakedowns(t *testing.T, s *synthesized, gatewayID string) {
	t.Helper()
	crID, cr := s.byID(t, "Custom::AWS", "InitialTakedowns")
	create := canon(props(cr)["Create"])
	for _, part := range []string{
		`\"action\":\"putObject\"`, `\"service\":\"S3\"`, `\"IfNoneMatch\":\"*\"`,
		`\"Key\":\"` + DenylistPrefix + TakedownsListName + `\"`,
		`\"ignoreErrorCodesMatching\":\"PreconditionFailed|ConditionalRequestConflict\"`,
		strings.Trim(canon(canon(InitialTakedowns)), `"`),
	} {
		if !strings.Contains(create, part) {
			t.Errorf("initial list call %s holds no %s", create, part)
		}
	}
	if !strings.Contains(create, `{"Ref":"`+bucketID(t, s, "DenylistBucket")+`"}`) {
		t.Errorf("initial list call %s is not on the denylist bucket", create)
	}
	if props(cr)["Update"] == nil || props(cr)["Delete"] != nil {
		t.Errorf("initial list: Update %v Delete %v, want the same call on update and nothing on delete", props(cr)["Update"], props(cr)["Delete"])
	}
	inline, attached := s.roleStatements(t, awsCustomResourceProviderID)
	sameStatements(t, "initial list writer", append(inline, attached...), []statement{
		allowed([]string{"s3:PutObject"}, nil, canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
			map[string]interface{}{"Fn::GetAtt": []interface{}{bucketID(t, s, "DenylistBucket"), "Arn"}}, "/" + DenylistPrefix + TakedownsListName}}})),
	})
	gw := s.json["Resources"].(map[string]interface{})[gatewayID].(map[string]interface{})
	if !strings.Contains(canon(gw["DependsOn"]), `"`+crID+`"`) {
		t.Errorf("%s depends on %v, not on the initial list %s", gatewayID, gw["DependsOn"], crID)
	}
}

// checkDenylistOutputs: the location and the edge list's ARN, which
// `hash-stream deny` takes (with DistributionId).
func checkDenylistOutputs(t *testing.T, s *synthesized) {
	t.Helper()
	outs := s.json["Outputs"].(map[string]interface{})
	if s.cfg.Denylist == DenylistOff {
		for _, k := range []string{"DenylistLocation", "DenylistKvsArn"} {
			if outs[k] != nil {
				t.Errorf("denylist=false: output %s", k)
			}
		}
		return
	}
	_, _, name := denylistBucketRef(t, s)
	var loc interface{} = map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{"s3://", name, "/" + s.stack.Denylist.Prefix}}}
	if lit, ok := name.(string); ok {
		loc = "s3://" + lit + "/" + s.stack.Denylist.Prefix
	}
	if got := outs["DenylistLocation"].(map[string]interface{})["Value"]; canon(got) != canon(loc) {
		t.Errorf("DenylistLocation %s, want %s", canon(got), canon(loc))
	}
	kvsID, _ := s.onlyResource(t, "AWS::CloudFront::KeyValueStore")
	if got := outs["DenylistKvsArn"].(map[string]interface{})["Value"]; canon(got) != canon(map[string]interface{}{"Fn::GetAtt": []interface{}{kvsID, "Arn"}}) {
		t.Errorf("DenylistKvsArn %s", canon(got))
	}
	if outs["DistributionId"] == nil {
		t.Error("no DistributionId output")
	}
}

// checkDenylistAlarm: Sum of failed reloads >= 1 in 5 minutes, from the
// EMF metric (namespace given, Lambda) or from a metric filter on the
// gateway's log group.
func checkDenylistAlarm(t *testing.T, s *synthesized, emf bool) {
	t.Helper()
	_, a := s.byID(t, "AWS::CloudWatch::Alarm", "DenylistReloadFailuresAlarm")
	p := props(a)
	ns := DenylistMetricNamespace
	if emf {
		ns = s.cfg.MetricsNamespace
	}
	if p["Namespace"] != ns || p["MetricName"] != DenylistReloadFailuresMetric || p["Statistic"] != "Sum" || p["Period"] != 300.0 ||
		p["Threshold"] != 1.0 || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["Dimensions"] != nil {
		t.Errorf("denylist alarm %s", canon(p))
	}
	filters := withoutHeal(s.resources("AWS::Logs::MetricFilter")) // TestHeal checks those
	if emf {
		if len(filters) != 0 {
			t.Errorf("%d metric filters beside the EMF metric", len(filters))
		}
		return
	}
	if len(filters) != 1 {
		t.Fatalf("%d metric filters, want the reload failures'", len(filters))
	}
	lg, _ := s.gatewayLogGroup(t)
	for _, f := range filters {
		fp := props(f)
		want := map[string]interface{}{
			"LogGroupName":  map[string]interface{}{"Ref": lg},
			"FilterPattern": `"` + DenylistReloadFailedLog + `"`,
			"MetricTransformations": []interface{}{map[string]interface{}{
				"MetricNamespace": ns, "MetricName": DenylistReloadFailuresMetric, "MetricValue": "1"}},
		}
		if canon(fp) != canon(want) {
			t.Errorf("metric filter %s, want %s", canon(fp), canon(want))
		}
	}
}

// TestDenylist checks the takedown machinery of each variant: the lists'
// bucket, the initial list, the gateway's grants and environment (the
// function's, checked by checkFunction and checkLeastPrivilege too), the
// edge list, the alarm and the outputs; with an existing location the
// stack only reads it; with denylist=false nothing of it is made.
func TestDenylist(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		s := synth(t, nil, "")
		id := bucketID(t, s, "DenylistBucket")
		b := s.resources("AWS::S3::Bucket")[id]
		p := props(b)
		if canon(p["VersioningConfiguration"]) != `{"Status":"Enabled"}` || b["DeletionPolicy"] != "Retain" ||
			p["PublicAccessBlockConfiguration"] == nil || p["BucketEncryption"] == nil ||
			!strings.Contains(canon(p["LifecycleConfiguration"]), `"NoncurrentVersionExpiration":{"NoncurrentDays":365}`) ||
			!strings.Contains(canon(p["LoggingConfiguration"]), `"LogFilePrefix":"s3/denylist/"`) {
			t.Errorf("denylist bucket %s", canon(b))
		}
		fnID, _ := s.gatewayFunction(t)
		checkInitialTakedowns(t, s, fnID)
		checkDenylistAlarm(t, s, false)
		checkDenylistOutputs(t, s)
		checkNoNagFindings(t, s)
	})
	t.Run("EMF", func(t *testing.T) {
		s := synth(t, map[string]string{"metricsNamespace": "HashStream", "accessLogs": "false"}, "")
		checkDenylistAlarm(t, s, true)
		if b := props(s.resources("AWS::S3::Bucket")[bucketID(t, s, "DenylistBucket")]); b["LoggingConfiguration"] != nil {
			t.Errorf("accessLogs=false: denylist bucket logs %v", b["LoggingConfiguration"])
		}
		checkNoNagFindings(t, s)
	})
	t.Run("ecs", func(t *testing.T) {
		s := synth(t, ecsCtx(t), "eu-west-1")
		svcID, _ := s.onlyResource(t, "AWS::ECS::Service")
		checkInitialTakedowns(t, s, svcID)
		checkDenylistAlarm(t, s, false)
		_, td := s.onlyResource(t, "AWS::ECS::TaskDefinition")
		env := canon(props(td)["ContainerDefinitions"])
		if !strings.Contains(env, `{"Name":"`+EnvDenylist+`","Value":{"Fn::Join":["",["s3://",{"Ref":"`+bucketID(t, s, "DenylistBucket")+`"},"/`+DenylistPrefix+`"]]}}`) {
			t.Errorf("task environment has no %s: %s", EnvDenylist, env)
		}
		checkDenylistOutputs(t, s)
		checkNoNagFindings(t, s)
	})
	t.Run("existing location", func(t *testing.T) {
		s := synth(t, map[string]string{"denylist": "s3://my-lists/gw/Takedowns/"}, "")
		if n := len(s.resources("Custom::AWS")); n != 0 {
			t.Errorf("%d custom resources: the stack writes nothing to an existing location", n)
		}
		for _, typ := range []string{"AWS::S3::Bucket", "AWS::S3::BucketPolicy"} {
			for id := range s.resources(typ) {
				if strings.HasPrefix(id, "DenylistBucket") {
					t.Errorf("%s %s for an existing location", typ, id)
				}
			}
		}
		if s.stack.Denylist.Prefix != "gw/Takedowns/" {
			t.Errorf("prefix %q: the case of a key prefix is kept", s.stack.Denylist.Prefix)
		}
		inline, attached := s.roleStatements(t, "GatewayRole")
		checkDenylistGrants(t, s, append(inline, attached...))
		_, fn := s.gatewayFunction(t)
		if got := props(fn)["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})[EnvDenylist]; got != "s3://my-lists/gw/Takedowns/" {
			t.Errorf("%s = %v", EnvDenylist, got)
		}
		checkDenylistOutputs(t, s)
		checkNoNagFindings(t, s)
	})
	t.Run("off", func(t *testing.T) {
		s := synth(t, map[string]string{"denylist": "FALSE"}, "")
		for _, typ := range []string{"Custom::AWS", "AWS::CloudFront::KeyValueStore", "AWS::Logs::MetricFilter"} {
			if n := len(withoutHeal(s.resources(typ))); n != 0 {
				t.Errorf("denylist=false: %d %s", n, typ)
			}
		}
		if len(s.storeResources("AWS::S3::Bucket")) != len(s.resources("AWS::S3::Bucket")) {
			t.Error("denylist=false: a denylist bucket")
		}
		_, fn := s.gatewayFunction(t)
		if v, ok := props(fn)["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})[EnvDenylist]; ok {
			t.Errorf("denylist=false: %s = %v", EnvDenylist, v)
		}
		for id := range s.resources("AWS::CloudWatch::Alarm") {
			if strings.HasPrefix(id, "DenylistReloadFailuresAlarm") {
				t.Error("denylist=false: a reload alarm")
			}
		}
		checkDenylistOutputs(t, s)
		checkNoNagFindings(t, s)
	})
	t.Run("errors", func(t *testing.T) {
		for _, v := range []string{"yes", "s3://", "s3://b", "s3://my-lists/no-slash", "s3://my-lists//x/", "s3://My_Bucket/x/", "/local/dir", "s3://b/*/"} {
			_, err := build(t, map[string]string{"denylist": v}, "")
			if err == nil || !strings.Contains(err.Error(), "context denylist=") {
				t.Errorf("denylist=%q: %v, want an error naming the key", v, err)
			}
		}
	})
}
