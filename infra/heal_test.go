package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/heal"
)

// TestHealMessages: the filters match the lines the gateway and the
// invalidator write (infra keeps its own copy of the messages).
func TestHealMessages(t *testing.T) {
	for _, c := range []struct{ infra, lib string }{
		{AbortedLogMessage, heal.AbortedMessage},
		{InvalidatedLogMessage, heal.InvalidatedMessage},
		{DroppedLogMessage, heal.DroppedMessage},
	} {
		if c.infra != c.lib {
			t.Errorf("infra matches %q, the code logs %q", c.infra, c.lib)
		}
	}
	if DefaultInvalidationsPerHour != heal.DefaultHourlyLimit {
		t.Errorf("DefaultInvalidationsPerHour %d, heal.DefaultHourlyLimit %d", DefaultInvalidationsPerHour, heal.DefaultHourlyLimit)
	}
	if InvalidatorTimeoutSeconds < int(heal.DefaultMaxWait.Seconds())+30 {
		t.Errorf("invalidator timeout %d s leaves no room after heal's %v of waits", InvalidatorTimeoutSeconds, heal.DefaultMaxWait)
	}
}

// jsonMsgPattern is the filter pattern of a JSON line's msg as the
// template holds it.
func jsonMsgPattern(msg string) string { return `{ $.msg = "` + msg + `" }` }

// checkHeal checks the self-healing part of a synthesized stack: the
// invalidator (settings, environment, exact role), the subscription of the
// gateway's log group (whichever compute writes it) to it and the
// permission it needs, the metric filters, the alarms (with alarms=true)
// and the outputs. namespace is the metrics' namespace, perHour the
// hourly limit, reserved the reserved concurrency (0: none).
func checkHeal(t *testing.T, s *synthesized, arch, namespace string, perHour, reserved int, alarms bool) {
	t.Helper()
	gwLogID, _ := s.byID(t, "AWS::Logs::LogGroup", "GatewayLogGroup")
	lgID, lg := s.byID(t, "AWS::Logs::LogGroup", "InvalidatorLogGroup")
	if props(lg)["RetentionInDays"] != float64(s.cfg.LogRetentionDays) {
		t.Errorf("invalidator log retention %v, want %d days", props(lg)["RetentionInDays"], s.cfg.LogRetentionDays)
	}
	distID, _ := s.onlyResource(t, "AWS::CloudFront::Distribution")

	fnID, fn := s.byID(t, "AWS::Lambda::Function", "InvalidatorFunction")
	p := props(fn)
	for k, want := range map[string]interface{}{
		"Runtime": "provided.al2023", "Handler": "bootstrap", "MemorySize": float64(InvalidatorMemoryMB),
		"Timeout": float64(InvalidatorTimeoutSeconds), "Architectures": []interface{}{arch},
		"LoggingConfig": map[string]interface{}{"LogGroup": map[string]interface{}{"Ref": lgID}},
	} {
		if !reflect.DeepEqual(p[k], want) {
			t.Errorf("invalidator %s = %v, want %v", k, canon(p[k]), canon(want))
		}
	}
	if reserved == 0 {
		if p["ReservedConcurrentExecutions"] != nil {
			t.Errorf("reserved concurrency %v, want none", p["ReservedConcurrentExecutions"])
		}
	} else if p["ReservedConcurrentExecutions"] != float64(reserved) {
		t.Errorf("reserved concurrency %v, want %d", p["ReservedConcurrentExecutions"], reserved)
	}
	env := p["Environment"].(map[string]interface{})["Variables"]
	wantEnv := map[string]interface{}{
		EnvDistributionID:       map[string]interface{}{"Ref": distID},
		EnvInvalidationsPerHour: strconv.Itoa(perHour),
		EnvLogLevel:             s.cfg.LogLevel,
	}
	if canon(env) != canon(wantEnv) {
		t.Errorf("invalidator environment %s, want %s", canon(env), canon(wantEnv))
	}

	// The role: CreateInvalidation on this distribution only, its own
	// logs, nothing else.
	roleRef := p["Role"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	if !strings.HasPrefix(roleRef, "InvalidatorRole") {
		t.Fatalf("invalidator role %s", roleRef)
	}
	role := s.resources("AWS::IAM::Role")[roleRef]
	if props(role)["ManagedPolicyArns"] != nil {
		t.Errorf("invalidator role has managed policies %v", props(role)["ManagedPolicyArns"])
	}
	if canon(props(role)["AssumeRolePolicyDocument"]) != `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}}],"Version":"2012-10-17"}` {
		t.Errorf("invalidator role trust %s", canon(props(role)["AssumeRolePolicyDocument"]))
	}
	pols := props(role)["Policies"].([]interface{})
	if len(pols) != 1 {
		t.Fatalf("%d inline policies", len(pols))
	}
	got := docStatements(pols[0].(map[string]interface{})["PolicyDocument"])
	// The distribution's ARN: partition and account as references, or as
	// literals once the stack has an environment.
	distArn := canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
		"arn:", map[string]interface{}{"Ref": "AWS::Partition"}, ":cloudfront::", map[string]interface{}{"Ref": "AWS::AccountId"},
		":distribution/", map[string]interface{}{"Ref": distID},
	}}})
	if !*awscdk.Token_IsUnresolved(s.stack.Region()) {
		distArn = canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
			"arn:aws:cloudfront::123456789012:distribution/", map[string]interface{}{"Ref": distID},
		}}})
	}
	want := []statement{
		{"Allow", []string{"cloudfront:CreateInvalidation"}, []string{distArn}, nil},
		{"Allow", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{getAttArn(lgID)}, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("invalidator statements\n%+v\nwant\n%+v", got, want)
	}
	for _, pol := range s.resources("AWS::IAM::Policy") {
		if strings.Contains(canon(pol), roleRef) {
			t.Errorf("a policy is attached to the invalidator role: %s", canon(pol))
		}
	}

	// The gateway's cut lines, and only those, go to the invalidator.
	subID, sub := s.onlyResource(t, "AWS::Logs::SubscriptionFilter")
	sp := props(sub)
	if canon(sp["LogGroupName"]) != ref(gwLogID) || sp["FilterPattern"] != jsonMsgPattern(AbortedLogMessage) || canon(sp["DestinationArn"]) != getAttArn(fnID) {
		t.Errorf("subscription %s", canon(sp))
	}
	var permID string
	for id, perm := range s.resources("AWS::Lambda::Permission") {
		pp := props(perm)
		if canon(pp["FunctionName"]) != getAttArn(fnID) {
			continue
		}
		if permID != "" {
			t.Errorf("two permissions on the invalidator: %s, %s", permID, id)
		}
		permID = id
		if pp["Action"] != "lambda:InvokeFunction" || pp["Principal"] != "logs.amazonaws.com" || canon(pp["SourceArn"]) != getAttArn(gwLogID) {
			t.Errorf("invalidator permission %s", canon(pp))
		}
	}
	if permID == "" {
		t.Fatal("no permission for CloudWatch Logs to invoke the invalidator")
	}
	if deps := strs(sub["DependsOn"]); !slices.Contains(deps, permID) {
		t.Errorf("subscription %s depends on %v, not on the permission %s (the first deploy would fail)", subID, deps, permID)
	}

	// Metric filters: cuts on the gateway's log group, paths invalidated
	// and dropped on the invalidator's.
	filters := map[string]string{}
	for _, f := range s.resources("AWS::Logs::MetricFilter") {
		fp := props(f)
		mt := fp["MetricTransformations"].([]interface{})[0].(map[string]interface{})
		if mt["MetricNamespace"] != namespace {
			continue
		}
		filters[mt["MetricName"].(string)] = canon(fp["LogGroupName"]) + " " + fp["FilterPattern"].(string) + " " + mt["MetricValue"].(string)
	}
	wantFilters := map[string]string{
		ResponsesAbortedMetric:         ref(gwLogID) + " " + jsonMsgPattern(AbortedLogMessage) + " 1",
		InvalidationPathsMetric:        ref(lgID) + " " + jsonMsgPattern(InvalidatedLogMessage) + " $.paths",
		InvalidationPathsDroppedMetric: ref(lgID) + " " + jsonMsgPattern(DroppedLogMessage) + " $.paths",
	}
	if !reflect.DeepEqual(filters, wantFilters) {
		t.Errorf("metric filters in %s:\n%v\nwant\n%v", namespace, filters, wantFilters)
	}

	// Alarms with alarms=true.
	alarmIDs := map[string]map[string]interface{}{}
	for id, a := range s.resources("AWS::CloudWatch::Alarm") {
		for _, name := range []string{"ResponsesAbortedAlarm", "InvalidationsDroppedAlarm", "InvalidatorErrorsAlarm"} {
			if strings.HasPrefix(id, name) {
				alarmIDs[name] = props(a)
			}
		}
	}
	if !alarms {
		if len(alarmIDs) != 0 {
			t.Errorf("alarms %v with alarms=false", keys(alarmIDs))
		}
	} else {
		for name, want := range map[string][2]string{
			"ResponsesAbortedAlarm":     {namespace, ResponsesAbortedMetric},
			"InvalidationsDroppedAlarm": {namespace, InvalidationPathsDroppedMetric},
			"InvalidatorErrorsAlarm":    {"AWS/Lambda", "Errors"},
		} {
			a := alarmIDs[name]
			if a == nil {
				t.Errorf("no %s", name)
				continue
			}
			if a["Namespace"] != want[0] || a["MetricName"] != want[1] || a["Statistic"] != "Sum" || a["Threshold"] != 1.0 ||
				a["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || a["Period"] != 300.0 || a["TreatMissingData"] != "notBreaching" {
				t.Errorf("%s %s", name, canon(a))
			}
			if name == "InvalidatorErrorsAlarm" && canon(a["Dimensions"]) != canon([]interface{}{map[string]interface{}{"Name": "FunctionName", "Value": map[string]interface{}{"Ref": fnID}}}) {
				t.Errorf("%s dimensions %s", name, canon(a["Dimensions"]))
			}
		}
		_, dash := s.onlyResource(t, "AWS::CloudWatch::Dashboard")
		if body := canon(props(dash)["DashboardBody"]); !strings.Contains(body, "Cut responses and their invalidations") {
			t.Errorf("dashboard without the cuts widget")
		}
	}

	outputs := s.json["Outputs"].(map[string]interface{})
	for name, want := range map[string]string{"InvalidatorFunctionName": ref(fnID), "InvalidatorLogGroupName": ref(lgID)} {
		o, ok := outputs[name].(map[string]interface{})
		if !ok || canon(o["Value"]) != want {
			t.Errorf("output %s = %v, want %s", name, outputs[name], want)
		}
	}
}

// TestHeal: the default stack (compute=lambda), environment-agnostic and
// in a region.
func TestHeal(t *testing.T) {
	for _, region := range []string{"", "eu-west-1"} {
		t.Run("region "+region, func(t *testing.T) {
			s := synth(t, nil, region)
			checkHeal(t, s, "arm64", HealMetricNamespacePrefix+DefaultStackName, DefaultInvalidationsPerHour, 1, true)
			// The gateway function writes the log group the subscription
			// reads.
			_, gw := s.byID(t, "AWS::Lambda::Function", "GatewayFunction")
			lgID, _ := s.byID(t, "AWS::Logs::LogGroup", "GatewayLogGroup")
			if canon(props(gw)["LoggingConfig"]) != canon(map[string]interface{}{"LogGroup": map[string]interface{}{"Ref": lgID}}) {
				t.Errorf("gateway logs to %s", canon(props(gw)["LoggingConfig"]))
			}
		})
	}
}

// TestHealECS: with compute=ecs the tasks write the same log group, which
// the subscription reads.
func TestHealECS(t *testing.T) {
	s := synth(t, ecsCtx(t), "eu-west-1")
	checkHeal(t, s, "arm64", HealMetricNamespacePrefix+DefaultStackName, DefaultInvalidationsPerHour, 1, true)
	lgID, _ := s.byID(t, "AWS::Logs::LogGroup", "GatewayLogGroup")
	_, td := s.onlyResource(t, "AWS::ECS::TaskDefinition")
	c := props(td)["ContainerDefinitions"].([]interface{})[0].(map[string]interface{})
	opts := c["LogConfiguration"].(map[string]interface{})["Options"].(map[string]interface{})
	if canon(opts["awslogs-group"]) != ref(lgID) {
		t.Errorf("tasks log to %s, the subscription reads %s", canon(opts["awslogs-group"]), ref(lgID))
	}
}

// TestHealSettings: the context keys, and the metrics in metricsNamespace.
func TestHealSettings(t *testing.T) {
	s := synth(t, map[string]string{
		"invalidationsPerHour": "5", "invalidatorConcurrency": "0", "metricsNamespace": "Gw", "logLevel": "debug",
	}, "")
	checkHeal(t, s, "arm64", "Gw", 5, 0, true)

	s = synth(t, map[string]string{"alarms": "false", "architecture": "x86_64"}, "")
	checkHeal(t, s, "x86_64", HealMetricNamespacePrefix+DefaultStackName, DefaultInvalidationsPerHour, 1, false)

	for arch, want := range map[string]string{"": DefaultInvalidatorLambdaDir, "arm64": DefaultInvalidatorLambdaDir, "x86_64": DefaultInvalidatorLambdaDirX86_64} {
		ctx := map[string]interface{}{}
		if arch != "" {
			ctx["architecture"] = arch
		}
		cfg, err := ConfigFromContext(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}).Node())
		if err != nil {
			t.Fatalf("architecture=%q: %v", arch, err)
		}
		if cfg.Heal.InvalidatorLambdaDir != want {
			t.Errorf("architecture=%q: invalidatorLambdaDir %q, want %q", arch, cfg.Heal.InvalidatorLambdaDir, want)
		}
	}
}

func TestHealConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		ctx  map[string]string
		want string
	}{
		{map[string]string{"invalidationsPerHour": "0"}, "invalidationsPerHour"},
		{map[string]string{"invalidationsPerHour": "3001"}, "invalidationsPerHour"},
		{map[string]string{"invalidationsPerHour": "ten"}, "invalidationsPerHour"},
		{map[string]string{"invalidatorConcurrency": "2"}, "invalidatorConcurrency"},
		{map[string]string{"invalidatorLambdaDir": "/nonexistent/invalidator"}, "invalidator code: /nonexistent/invalidator/bootstrap not found: run `make build-lambda` or pass -c invalidatorLambdaDir="},
	} {
		_, err := build(t, tc.ctx, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.ctx, err, tc.want)
		}
	}
}

// healIDs are the logical ID prefixes of the self-healing resources
// (heal.go); the tests of the rest of the stack leave them out with
// withoutHeal.
var healIDs = []string{"Invalidator", "CutsSubscription", "ResponsesAborted", "InvalidationPaths", "InvalidationsDropped"}

func isHeal(id string) bool {
	for _, p := range healIDs {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// withoutHeal returns rs without the self-healing resources.
func withoutHeal(rs map[string]map[string]interface{}) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for id, r := range rs {
		if !isHeal(id) {
			out[id] = r
		}
	}
	return out
}
