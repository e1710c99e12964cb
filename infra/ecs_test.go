package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// makeImageDir writes a stand-in of the image build context `make
// image-stage` writes: synth only copies it (Docker builds it at deploy).
func makeImageDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"Dockerfile": "FROM scratch\n", "hash-stream": "binary"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ecsCtx(t *testing.T, kv ...string) map[string]string {
	t.Helper()
	ctx := map[string]string{"compute": "ecs", "imageDir": makeImageDir(t)}
	for i := 0; i < len(kv); i += 2 {
		ctx[kv[i]] = kv[i+1]
	}
	return ctx
}

func ref(id string) string { return canon(map[string]interface{}{"Ref": id}) }

func TestECSStack(t *testing.T) {
	s := synth(t, ecsCtx(t), "eu-west-1")
	index, pack := bucketID(t, s, "IndexBucket"), bucketID(t, s, "PackBucket")
	logGroupID, logGroup := s.gatewayLogGroup(t)
	albID, alb := s.onlyResource(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	tgID, tg := s.onlyResource(t, "AWS::ElasticLoadBalancingV2::TargetGroup")
	taskDefID, taskDef := s.onlyResource(t, "AWS::ECS::TaskDefinition")
	svcID, svc := s.onlyResource(t, "AWS::ECS::Service")

	t.Run("no function, no URL", func(t *testing.T) {
		for _, typ := range []string{"AWS::Lambda::Url", "AWS::Lambda::Permission", "AWS::CloudFront::OriginAccessControl"} {
			if n := len(withoutHeal(s.resources(typ))); n != 0 {
				t.Errorf("%d %s with compute=ecs", n, typ)
			}
		}
		// The only function is CDK's custom resource that empties the VPC's
		// default security group (@aws-cdk/aws-ec2:restrictDefaultSecurityGroup).
		// (And the invalidator's: TestHealECS.)
		for id, fn := range withoutHeal(s.resources("AWS::Lambda::Function")) {
			if props(fn)["Handler"] == "bootstrap" {
				t.Errorf("gateway function %s with compute=ecs", id)
			}
		}
		if s.stack.Function != nil || s.stack.FunctionURL != nil || s.stack.ECS == nil {
			t.Errorf("stack Function %v URL %v ECS %v", s.stack.Function, s.stack.FunctionURL, s.stack.ECS)
		}
	})
	t.Run("task definition", func(t *testing.T) {
		p := props(taskDef)
		if p["Cpu"] != "1024" || p["Memory"] != "2048" || p["NetworkMode"] != "awsvpc" || canon(p["RequiresCompatibilities"]) != `["FARGATE"]` {
			t.Errorf("cpu %v memory %v network %v compat %v", p["Cpu"], p["Memory"], p["NetworkMode"], p["RequiresCompatibilities"])
		}
		if canon(p["RuntimePlatform"]) != `{"CpuArchitecture":"ARM64","OperatingSystemFamily":"LINUX"}` {
			t.Errorf("runtime platform %s, want ARM64 Linux", canon(p["RuntimePlatform"]))
		}
		cds := p["ContainerDefinitions"].([]interface{})
		if len(cds) != 1 {
			t.Fatalf("%d containers, want 1", len(cds))
		}
		c := cds[0].(map[string]interface{})
		env := map[string]string{}
		for _, e := range c["Environment"].([]interface{}) {
			e := e.(map[string]interface{})
			env[e["Name"].(string)] = canon(e["Value"])
		}
		want := map[string]string{
			EnvIndexBucket: ref(index), EnvIndexPrefix: `""`, EnvPackBucket: ref(pack), EnvPackPrefix: `"packs/"`,
			EnvLogLevel: `"info"`, EnvStoreBackend: `"s3"`, EnvListen: `"0.0.0.0:3000"`, EnvRegion: `"eu-west-1"`,
			EnvClientFrom: `"CloudFront-Viewer-Address"`, EnvViewerFrom: `"CloudFront-Viewer-Address"`,
			EnvDenylist: canon(withDenylistEnv(t, s, nil)[EnvDenylist]),
		}
		if !reflect.DeepEqual(env, want) {
			t.Errorf("environment %v, want %v", env, want)
		}
		// serve's keep-alive idle timeout: above the load balancer's (65 s:
		// CloudFront's 60 s keep-alive + 5), so the load balancer closes
		// its idle connections to the task first.
		if canon(c["Command"]) != `["--idle-timeout=70s"]` {
			t.Errorf("command %s, want serve's --idle-timeout=70s", canon(c["Command"]))
		}
		if canon(c["PortMappings"]) != `[{"ContainerPort":3000,"Protocol":"tcp"}]` {
			t.Errorf("port mappings %s", canon(c["PortMappings"]))
		}
		if c["Essential"] != true || c["ReadonlyRootFilesystem"] != true || c["StopTimeout"] != float64(ContainerStopTimeoutSeconds) {
			t.Errorf("essential %v read-only root %v stop timeout %v", c["Essential"], c["ReadonlyRootFilesystem"], c["StopTimeout"])
		}
		// An image asset: the CDK assets repository, tagged with the hash
		// of the build context.
		if img := canon(c["Image"]); !strings.Contains(img, "container-assets") {
			t.Errorf("image %s, want the CDK image asset", img)
		}
		lc := c["LogConfiguration"].(map[string]interface{})
		opts := lc["Options"].(map[string]interface{})
		if lc["LogDriver"] != "awslogs" || canon(opts["awslogs-group"]) != ref(logGroupID) || opts["awslogs-stream-prefix"] != "gateway" {
			t.Errorf("log configuration %s, want awslogs to %s", canon(lc), logGroupID)
		}
		if props(logGroup)["RetentionInDays"] != float64(DefaultLogRetentionDays) {
			t.Errorf("log retention %v", props(logGroup)["RetentionInDays"])
		}
		if c["HealthCheck"] != nil {
			t.Errorf("container health check %v: the image has no shell, the target group checks %s", c["HealthCheck"], HealthCheckPath)
		}
	})
	t.Run("roles", func(t *testing.T) {
		taskRole := props(taskDef)["TaskRoleArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
		execRole := props(taskDef)["ExecutionRoleArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
		roles := s.resources("AWS::IAM::Role")
		tp := props(roles[taskRole])
		if !strings.Contains(canon(tp["AssumeRolePolicyDocument"]), `"ecs-tasks.amazonaws.com"`) {
			t.Errorf("task role trust %s", canon(tp["AssumeRolePolicyDocument"]))
		}
		// The task role: the function's statements without its logs.
		var got []statement
		for _, p := range tp["Policies"].([]interface{}) {
			for _, st := range p.(map[string]interface{})["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
				st := st.(map[string]interface{})
				got = append(got, statement{Effect: st["Effect"].(string), Actions: strs(st["Action"]), Resources: []string{canon(st["Resource"])}, Condition: st["Condition"]})
			}
		}
		want := []statement{
			{"Allow", []string{"s3:GetObject"}, []string{canon([]interface{}{
				map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{index, "Arn"}}, "/*"}}},
				map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{pack, "Arn"}}, "/packs/*"}}},
			})}, nil},
			{"Allow", []string{"s3:ListBucket"}, []string{getAttArn(index)}, nil},
		}
		want = append(want, wantDenylistStatements(t, s)...)
		if canon(got) != canon(want) {
			t.Errorf("task role statements\n%+v\nwant\n%+v", got, want)
		}
		if tp["ManagedPolicyArns"] != nil {
			t.Errorf("task role managed policies %v", tp["ManagedPolicyArns"])
		}
		// The execution role: pull from the assets repository, the auth
		// token, write the task logs to the log group; nothing else.
		for _, r := range s.resources("AWS::IAM::Policy") {
			p := props(r)
			if !strings.Contains(canon(p["Roles"]), execRole) {
				continue
			}
			for _, st := range p["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
				st := st.(map[string]interface{})
				acts, res := strings.Join(strs(st["Action"]), ","), canon(st["Resource"])
				switch acts {
				case "ecr:BatchCheckLayerAvailability,ecr:BatchGetImage,ecr:GetDownloadUrlForLayer":
					if !strings.Contains(res, "repository/cdk-") {
						t.Errorf("image pull on %s, want the CDK assets repository", res)
					}
				case "ecr:GetAuthorizationToken":
				case "logs:CreateLogStream,logs:PutLogEvents":
					if res != getAttArn(logGroupID) {
						t.Errorf("logs on %s, want %s", res, logGroupID)
					}
				default:
					t.Errorf("execution role statement %s on %s", acts, res)
				}
			}
		}
	})
	t.Run("service", func(t *testing.T) {
		p := props(svc)
		if p["LaunchType"] != "FARGATE" || p["DesiredCount"] != float64(DefaultMinTasks) || p["HealthCheckGracePeriodSeconds"] != 60.0 || p["PlatformVersion"] != "LATEST" {
			t.Errorf("launch %v desired %v grace %v platform %v", p["LaunchType"], p["DesiredCount"], p["HealthCheckGracePeriodSeconds"], p["PlatformVersion"])
		}
		if canon(p["DeploymentConfiguration"]) != `{"DeploymentCircuitBreaker":{"Enable":true,"Rollback":true},"MaximumPercent":200,"MinimumHealthyPercent":100}` {
			t.Errorf("deployment %s", canon(p["DeploymentConfiguration"]))
		}
		if canon(p["LoadBalancers"]) != canon([]interface{}{map[string]interface{}{"ContainerName": "gateway", "ContainerPort": 3000, "TargetGroupArn": map[string]interface{}{"Ref": tgID}}}) {
			t.Errorf("service load balancers %s", canon(p["LoadBalancers"]))
		}
		if canon(p["TaskDefinition"]) != ref(taskDefID) {
			t.Errorf("task definition %v", p["TaskDefinition"])
		}
		net := p["NetworkConfiguration"].(map[string]interface{})["AwsvpcConfiguration"].(map[string]interface{})
		if net["AssignPublicIp"] != "DISABLED" || !strings.Contains(canon(net["Subnets"]), "privateSubnet") {
			t.Errorf("network %s, want private subnets without public IPs", canon(net))
		}
	})
	t.Run("load balancer and health check", func(t *testing.T) {
		p := props(alb)
		if p["Scheme"] != "internal" || p["Type"] != "application" || !strings.Contains(canon(p["Subnets"]), "privateSubnet") {
			t.Errorf("load balancer scheme %v type %v subnets %s", p["Scheme"], p["Type"], canon(p["Subnets"]))
		}
		attrs := map[string]string{}
		for _, a := range p["LoadBalancerAttributes"].([]interface{}) {
			a := a.(map[string]interface{})
			attrs[a["Key"].(string)] = canon(a["Value"])
		}
		for k, v := range map[string]string{
			"routing.http.drop_invalid_header_fields.enabled": `"true"`,
			"idle_timeout.timeout_seconds":                    `"65"`,
			"access_logs.s3.enabled":                          `"true"`,
			"access_logs.s3.bucket":                           ref(bucketID(t, s, "AccessLogBucket")),
			"access_logs.s3.prefix":                           `"alb"`,
		} {
			if attrs[k] != v {
				t.Errorf("load balancer %s = %s, want %s", k, attrs[k], v)
			}
		}
		tp := props(tg)
		for k, v := range map[string]interface{}{
			"HealthCheckPath": HealthCheckPath, "HealthCheckProtocol": "HTTP", "HealthCheckIntervalSeconds": 15.0,
			"HealthCheckTimeoutSeconds": 5.0, "HealthyThresholdCount": 2.0, "UnhealthyThresholdCount": 3.0,
			"Port": float64(ContainerPort), "Protocol": "HTTP", "TargetType": "ip",
		} {
			if tp[k] != v {
				t.Errorf("target group %s = %v, want %v", k, tp[k], v)
			}
		}
		if canon(tp["Matcher"]) != `{"HttpCode":"200"}` || !strings.Contains(canon(tp["TargetGroupAttributes"]), `{"Key":"deregistration_delay.timeout_seconds","Value":"120"}`) {
			t.Errorf("matcher %s attributes %s", canon(tp["Matcher"]), canon(tp["TargetGroupAttributes"]))
		}
		_, l := s.onlyResource(t, "AWS::ElasticLoadBalancingV2::Listener")
		lp := props(l)
		if lp["Port"] != float64(LoadBalancerPort) || lp["Protocol"] != "HTTP" || canon(lp["LoadBalancerArn"]) != ref(albID) ||
			canon(lp["DefaultActions"]) != canon([]interface{}{map[string]interface{}{"TargetGroupArn": map[string]interface{}{"Ref": tgID}, "Type": "forward"}}) {
			t.Errorf("listener %s", canon(lp))
		}
	})
	t.Run("security groups", func(t *testing.T) {
		// The load balancer admits the VPC's range on port 80 only; the
		// tasks admit the load balancer on port 3000 only.
		var ingress []string
		for _, sg := range s.resources("AWS::EC2::SecurityGroup") {
			for _, in := range asSlice(props(sg)["SecurityGroupIngress"]) {
				ingress = append(ingress, canon(in))
			}
		}
		for _, in := range s.resources("AWS::EC2::SecurityGroupIngress") {
			p := props(in)
			ingress = append(ingress, canon(map[string]interface{}{"FromPort": p["FromPort"], "ToPort": p["ToPort"], "From": p["SourceSecurityGroupId"]}))
		}
		sort.Strings(ingress)
		albSG := props(alb)["SecurityGroups"].([]interface{})[0].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0]
		want := []string{
			canon(map[string]interface{}{"CidrIp": VpcCIDR, "Description": "CloudFront VPC origin (its network interfaces are in the VPC)", "FromPort": 80, "IpProtocol": "tcp", "ToPort": 80}),
			canon(map[string]interface{}{"From": map[string]interface{}{"Fn::GetAtt": []interface{}{albSG, "GroupId"}}, "FromPort": 3000, "ToPort": 3000}),
		}
		sort.Strings(want)
		if !reflect.DeepEqual(ingress, want) {
			t.Errorf("ingress\n%v\nwant\n%v", ingress, want)
		}
		_, vpc := s.onlyResource(t, "AWS::EC2::VPC")
		if props(vpc)["CidrBlock"] != VpcCIDR {
			t.Errorf("VPC CIDR %v, want %s", props(vpc)["CidrBlock"], VpcCIDR)
		}
		if n := len(s.resources("AWS::EC2::NatGateway")); n != 1 {
			t.Errorf("%d NAT gateways, want 1", n)
		}
		_, ep := s.onlyResource(t, "AWS::EC2::VPCEndpoint")
		if props(ep)["VpcEndpointType"] != "Gateway" || !strings.Contains(canon(props(ep)["ServiceName"]), ".s3") {
			t.Errorf("endpoint %s, want the S3 gateway endpoint", canon(props(ep)))
		}
		_, fl := s.onlyResource(t, "AWS::EC2::FlowLog")
		if props(fl)["LogDestinationType"] != "s3" || props(fl)["TrafficType"] != "REJECT" {
			t.Errorf("flow log %s", canon(props(fl)))
		}
	})
	t.Run("autoscaling", func(t *testing.T) {
		_, target := s.onlyResource(t, "AWS::ApplicationAutoScaling::ScalableTarget")
		tp := props(target)
		if tp["MinCapacity"] != float64(DefaultMinTasks) || tp["MaxCapacity"] != float64(DefaultMaxTasks) || tp["ScalableDimension"] != "ecs:service:DesiredCount" {
			t.Errorf("scalable target %s", canon(tp))
		}
		got := map[string]float64{}
		for _, pol := range s.resources("AWS::ApplicationAutoScaling::ScalingPolicy") {
			c := props(pol)["TargetTrackingScalingPolicyConfiguration"].(map[string]interface{})
			m := c["PredefinedMetricSpecification"].(map[string]interface{})
			got[m["PredefinedMetricType"].(string)] = c["TargetValue"].(float64)
			if c["ScaleOutCooldown"] != 60.0 || c["ScaleInCooldown"] != 300.0 {
				t.Errorf("cooldowns out %v in %v", c["ScaleOutCooldown"], c["ScaleInCooldown"])
			}
			if m["PredefinedMetricType"] == "ALBRequestCountPerTarget" && !strings.Contains(canon(m["ResourceLabel"]), tgID) {
				t.Errorf("request count label %s, want target group %s", canon(m["ResourceLabel"]), tgID)
			}
		}
		want := map[string]float64{"ECSServiceAverageCPUUtilization": ScaleCPUPercent, "ALBRequestCountPerTarget": ScaleRequestsPerTarget}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("scaling policies %v, want %v", got, want)
		}
	})
	t.Run("vpc origin", func(t *testing.T) {
		voID, vo := s.onlyResource(t, "AWS::CloudFront::VpcOrigin")
		c := props(vo)["VpcOriginEndpointConfig"].(map[string]interface{})
		if canon(c["Arn"]) != ref(albID) || c["HTTPPort"] != float64(LoadBalancerPort) || c["OriginProtocolPolicy"] != "http-only" {
			t.Errorf("VPC origin %s, want http-only to %s:80", canon(c), albID)
		}
		_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
		origins := props(dist)["DistributionConfig"].(map[string]interface{})["Origins"].([]interface{})
		if len(origins) != 1 {
			t.Fatalf("%d origins, want 1", len(origins))
		}
		o := origins[0].(map[string]interface{})
		voc, _ := o["VpcOriginConfig"].(map[string]interface{})
		if voc == nil || canon(voc["VpcOriginId"]) != canon(map[string]interface{}{"Fn::GetAtt": []interface{}{voID, "Id"}}) ||
			voc["OriginReadTimeout"] != float64(DefaultOriginReadTimeoutSeconds) || voc["OriginKeepaliveTimeout"] != float64(DefaultOriginKeepaliveTimeoutSeconds) {
			t.Errorf("origin %s, want the VPC origin %s with read timeout %d and keep-alive %d", canon(o), voID, DefaultOriginReadTimeoutSeconds, DefaultOriginKeepaliveTimeoutSeconds)
		}
		if o["OriginShield"] != nil {
			t.Errorf("Origin Shield %s without originShieldRegion", canon(o["OriginShield"]))
		}
		if c["Name"] != "HashStreamGateway-LoadBalancer-eu-west-1" {
			t.Errorf("VPC origin name %v, want the stack, purpose and region", c["Name"])
		}
		if !strings.Contains(canon(o["DomainName"]), albID) {
			t.Errorf("origin domain %s, want the load balancer's", canon(o["DomainName"]))
		}
		if o["OriginAccessControlId"] != nil || o["CustomOriginConfig"] != nil {
			t.Errorf("origin OAC %v custom config %v", o["OriginAccessControlId"], o["CustomOriginConfig"])
		}
	})
	t.Run("distribution", func(t *testing.T) { checkDistribution(t, s, true) })
	t.Run("alarms", func(t *testing.T) {
		got := map[string]map[string]interface{}{}
		for id, a := range withoutHeal(s.resources("AWS::CloudWatch::Alarm")) { // TestHealECS checks those
			got[id] = props(a)
		}
		want := map[string]struct {
			ns, metric, stat string
			threshold        float64
		}{
			"UnhealthyTasksAlarm":  {"AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", 1},
			"LoadBalancer5xxAlarm": {"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", AlarmLoadBalancer5xx},
			"ServiceCpuAlarm":      {"AWS/ECS", "CPUUtilization", "Average", AlarmCPUPercent},
			// No EMF on ECS: counted from the log lines (TestDenylist).
			"DenylistReloadFailuresAlarm": {DenylistMetricNamespace, DenylistReloadFailuresMetric, "Sum", 1},
		}
		// eu-west-1: no CloudFront 5xx alarm (its metrics are in us-east-1).
		if len(got) != len(want) {
			t.Errorf("alarms %v, want %v", keys(got), keys(want))
		}
		for name, w := range want {
			var p map[string]interface{}
			for id, a := range got {
				if strings.HasPrefix(id, name) {
					p = a
				}
			}
			if p == nil {
				t.Errorf("no %s", name)
				continue
			}
			if p["Namespace"] != w.ns || p["MetricName"] != w.metric || p["Statistic"] != w.stat || p["Threshold"] != w.threshold ||
				p["Period"] != 300.0 || p["TreatMissingData"] != "notBreaching" {
				t.Errorf("%s: %s", name, canon(p))
			}
		}
		if n := len(s.resources("AWS::CloudWatch::Dashboard")); n != 1 {
			t.Errorf("%d dashboards", n)
		}
	})
	t.Run("outputs", func(t *testing.T) {
		outs := s.json["Outputs"].(map[string]interface{})
		for _, k := range []string{"DistributionUrl", "IndexBucketName", "PackBucketName", "ClusterName", "ServiceName", "LoadBalancerDns"} {
			if outs[k] == nil {
				t.Errorf("output %s missing", k)
			}
		}
		for _, k := range []string{"FunctionName", "FunctionUrl"} {
			if outs[k] != nil {
				t.Errorf("output %s with compute=ecs", k)
			}
		}
		if canon(outs["ServiceName"].(map[string]interface{})["Value"]) != canon(map[string]interface{}{"Fn::GetAtt": []interface{}{svcID, "Name"}}) {
			t.Errorf("ServiceName %v", outs["ServiceName"])
		}
	})
	t.Run("nag", func(t *testing.T) { checkNoNagFindings(t, s) })
}

func asSlice(v interface{}) []interface{} {
	s, _ := v.([]interface{})
	return s
}

// TestECSSizesWithoutLogs: the bounds and task size from context, prefixes
// scoping the task role, and with accessLogs=false no flow log nor load
// balancer logs (their cdk-nag rules suppressed) and no region needed.
func TestECSSizesWithoutLogs(t *testing.T) {
	s := synth(t, ecsCtx(t, "minTasks", "2", "maxTasks", "10", "taskCpu", "2048", "taskMemory", "5120",
		"accessLogs", "false", "alarms", "false", "indexPrefix", "idx/", "logRetentionDays", "7"), "")
	_, td := s.onlyResource(t, "AWS::ECS::TaskDefinition")
	if p := props(td); p["Cpu"] != "2048" || p["Memory"] != "5120" {
		t.Errorf("cpu %v memory %v", p["Cpu"], p["Memory"])
	}
	_, target := s.onlyResource(t, "AWS::ApplicationAutoScaling::ScalableTarget")
	if p := props(target); p["MinCapacity"] != 2.0 || p["MaxCapacity"] != 10.0 {
		t.Errorf("capacity %v..%v, want 2..10", p["MinCapacity"], p["MaxCapacity"])
	}
	_, svc := s.onlyResource(t, "AWS::ECS::Service")
	if props(svc)["DesiredCount"] != 2.0 {
		t.Errorf("desired count %v, want minTasks", props(svc)["DesiredCount"])
	}
	if n := len(s.resources("AWS::EC2::FlowLog")); n != 0 {
		t.Errorf("%d flow logs with accessLogs=false", n)
	}
	_, alb := s.onlyResource(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	if strings.Contains(canon(props(alb)["LoadBalancerAttributes"]), "access_logs") {
		t.Errorf("load balancer access logs with accessLogs=false: %s", canon(props(alb)["LoadBalancerAttributes"]))
	}
	if n := len(s.resources("AWS::CloudWatch::Alarm")); n != 0 {
		t.Errorf("%d alarms with alarms=false", n)
	}
	_, lg := s.gatewayLogGroup(t)
	if props(lg)["RetentionInDays"] != 7.0 {
		t.Errorf("retention %v", props(lg)["RetentionInDays"])
	}
	if !strings.Contains(canon(s.json), `"s3:prefix":"idx/*"`) {
		t.Error("task role's ListBucket not scoped to indexPrefix")
	}
	checkNoNagFindings(t, s)
}

func TestECSConfigErrors(t *testing.T) {
	img := makeImageDir(t)
	for _, tc := range []struct {
		name   string
		ctx    map[string]string
		region string
		want   string
	}{
		{"unknown compute", map[string]string{"compute": "fargate"}, "", "want lambda or ecs"},
		{"min above max", map[string]string{"compute": "ecs", "imageDir": img, "minTasks": "5", "maxTasks": "4"}, "eu-west-1", "above maxTasks"},
		{"min tasks 0", map[string]string{"compute": "ecs", "imageDir": img, "minTasks": "0"}, "eu-west-1", "minTasks"},
		{"max tasks above bound", map[string]string{"compute": "ecs", "imageDir": img, "maxTasks": "101"}, "eu-west-1", "maxTasks"},
		{"cpu not a Fargate size", map[string]string{"compute": "ecs", "imageDir": img, "taskCpu": "1000"}, "eu-west-1", "taskCpu"},
		{"memory not for the cpu", map[string]string{"compute": "ecs", "imageDir": img, "taskMemory": "1024"}, "eu-west-1", "taskMemory"},
		{"lambda memory with ecs", map[string]string{"compute": "ecs", "imageDir": img, "memorySize": "2048"}, "eu-west-1", "memorySize needs compute=lambda"},
		{"reserved concurrency with ecs", map[string]string{"compute": "ecs", "imageDir": img, "reservedConcurrency": "5"}, "eu-west-1", "reservedConcurrency needs compute=lambda"},
		{"task count with lambda", map[string]string{"maxTasks": "3"}, "", "maxTasks needs compute=ecs"},
		{"missing image", map[string]string{"compute": "ecs", "imageDir": "/nonexistent/image"}, "eu-west-1", "make image-stage"},
		{"access logs without region", map[string]string{"compute": "ecs", "imageDir": img}, "", "need the stack's region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.ctx, tc.region)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestFargateSizes(t *testing.T) {
	for _, tc := range []struct {
		cpu, mem int
		ok       bool
	}{
		{256, 512, true}, {256, 2048, true}, {256, 1536, false}, {256, 3072, false},
		{512, 1024, true}, {512, 4096, true}, {512, 5120, false},
		{1024, 2048, true}, {1024, 8192, true}, {1024, 1024, false}, {1024, 2560, false},
		{2048, 16384, true}, {4096, 30720, true}, {4096, 31744, false},
		{8192, 16384, true}, {8192, 20480, true}, {8192, 17408, false},
		{16384, 122880, true}, {16384, 131072, false}, {3000, 8192, false},
	} {
		if err := checkFargateSize(tc.cpu, tc.mem); (err == nil) != tc.ok {
			t.Errorf("checkFargateSize(%d, %d) = %v, want ok %v", tc.cpu, tc.mem, err, tc.ok)
		}
	}
}

// TestECSPrefixList: with cloudFrontPrefixListId the load balancer admits
// CloudFront's managed prefix list (the AWS-documented way for VPC
// origins) instead of the VPC's range; origin settings reach the VPC
// origin; the idle timeouts follow the origin timeouts.
func TestECSPrefixList(t *testing.T) {
	s := synth(t, ecsCtx(t, "cloudFrontPrefixListId", "pl-4fa04526", "originShieldRegion", "eu-west-1",
		"originReadTimeout", "90", "originKeepaliveTimeout", "30"), "eu-west-1")
	_, alb := s.onlyResource(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	albSG := props(alb)["SecurityGroups"].([]interface{})[0].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	// Inline rules of the group, and rules made as their own resources
	// (CDK makes a prefix-list rule one of those).
	in := asSlice(props(s.resources("AWS::EC2::SecurityGroup")[albSG])["SecurityGroupIngress"])
	for _, r := range s.resources("AWS::EC2::SecurityGroupIngress") {
		if p := props(r); canon(p["GroupId"]) == canon(map[string]interface{}{"Fn::GetAtt": []interface{}{albSG, "GroupId"}}) {
			in = append(in, p)
		}
	}
	if len(in) != 1 {
		t.Fatalf("load balancer ingress %s, want one rule", canon(in))
	}
	r := in[0].(map[string]interface{})
	if r["SourcePrefixListId"] != "pl-4fa04526" || r["CidrIp"] != nil || r["FromPort"] != 80.0 || r["ToPort"] != 80.0 {
		t.Errorf("load balancer ingress %s, want port 80 from pl-4fa04526 only", canon(r))
	}
	attrs := map[string]string{}
	for _, a := range props(alb)["LoadBalancerAttributes"].([]interface{}) {
		a := a.(map[string]interface{})
		attrs[a["Key"].(string)] = canon(a["Value"])
	}
	// max(read 90, keep-alive 30 + 5) = 90; serve 95.
	if attrs["idle_timeout.timeout_seconds"] != `"90"` {
		t.Errorf("idle timeout %s, want 90 (the read timeout)", attrs["idle_timeout.timeout_seconds"])
	}
	_, td := s.onlyResource(t, "AWS::ECS::TaskDefinition")
	if c := props(td)["ContainerDefinitions"].([]interface{})[0].(map[string]interface{}); canon(c["Command"]) != `["--idle-timeout=95s"]` {
		t.Errorf("command %s, want --idle-timeout=95s", canon(c["Command"]))
	}
	_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
	o := props(dist)["DistributionConfig"].(map[string]interface{})["Origins"].([]interface{})[0].(map[string]interface{})
	voc := o["VpcOriginConfig"].(map[string]interface{})
	if voc["OriginReadTimeout"] != 90.0 || voc["OriginKeepaliveTimeout"] != 30.0 {
		t.Errorf("VPC origin config %s, want read 90 keep-alive 30", canon(voc))
	}
	if canon(o["OriginShield"]) != `{"Enabled":true,"OriginShieldRegion":"eu-west-1"}` {
		t.Errorf("Origin Shield %s, want enabled in eu-west-1", canon(o["OriginShield"]))
	}
	checkNoNagFindings(t, s)
}
