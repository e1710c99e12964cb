package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Compute options (context compute).
const (
	ComputeLambda = "lambda"
	ComputeECS    = "ecs"
)

// The Fargate service (compute=ecs).
const (
	// ContainerPort is where `hash-stream serve` listens in the image
	// (HASH_STREAM_LISTEN=0.0.0.0:3000, EXPOSE 3000).
	ContainerPort = 3000
	// VpcCIDR is the VPC's range, a literal so the load balancer's
	// security group rule names it (and cdk-nag can read it).
	VpcCIDR = "10.0.0.0/16"
	// LoadBalancerPort is the internal load balancer's HTTP listener, the
	// port of the CloudFront VPC origin.
	LoadBalancerPort = 80
	// HealthCheckPath answers 200 once the index and pack stores answer.
	HealthCheckPath = "/readyz"
	// ScaleCPUPercent is the average CPU utilization the service is scaled
	// to keep (target tracking).
	ScaleCPUPercent = 60
	// ScaleRequestsPerTarget is the number of requests per task per minute
	// (ALBRequestCountPerTarget) the service is scaled to keep. Most
	// requests are cache misses of single blocks served in milliseconds;
	// long CAR streams load the CPU and the network, which the CPU target
	// catches.
	ScaleRequestsPerTarget = 1000
	// DeregistrationDelaySeconds is how long a task leaving the service
	// (scale-in, deploy) keeps serving the responses in flight before it
	// gets SIGTERM, after which serve still gives them its shutdown timeout
	// (25 s, inside the container's StopTimeout).
	DeregistrationDelaySeconds = 120
	// ContainerStopTimeoutSeconds is how long ECS waits after SIGTERM
	// before SIGKILL: above serve's default --shutdown-timeout of 25 s.
	ContainerStopTimeoutSeconds = 30
	// EnvStoreBackend, EnvListen and EnvRegion complete the gateway's
	// environment for serve, which also reads a local folder store.
	EnvStoreBackend = "HASH_STREAM_STORE_BACKEND"
	EnvListen       = "HASH_STREAM_LISTEN"
	EnvRegion       = "AWS_REGION"
	// EnvClientFrom and EnvViewerFrom tell serve that the load balancer
	// (reached only through CloudFront's VPC origin) passes CloudFront's
	// CloudFront-Viewer-Address: clients are told apart by it for fair
	// admission, and the request log names it.
	EnvClientFrom = "HASH_STREAM_CLIENT_FROM"
	EnvViewerFrom = "HASH_STREAM_VIEWER_FROM"
)

// ECSService is what compute=ecs makes, on GatewayStack.ECS.
type ECSService struct {
	Vpc          awsec2.Vpc
	Cluster      awsecs.Cluster
	TaskDef      awsecs.FargateTaskDefinition
	Service      awsecs.FargateService
	LoadBalancer awselasticloadbalancingv2.ApplicationLoadBalancer
	TargetGroup  awselasticloadbalancingv2.ApplicationTargetGroup
	// Origin is the CloudFront VPC origin to the load balancer.
	Origin awscloudfront.IOrigin
}

// checkECS checks what compute=ecs needs before any construct is made:
// the image's build context, and with accessLogs the stack's region, whose
// load balancer log delivery the log bucket's policy must name (the CDK CLI
// always hands the app a region: the configured one, else us-east-1).
func checkECS(cfg Config, env *awscdk.Environment) error {
	if err := checkImageDir(cfg.ImageDir); err != nil {
		return err
	}
	if cfg.AccessLogs && (env == nil || env.Region == nil || *env.Region == "") {
		return errors.New("compute=ecs with accessLogs=true: load balancer access logs need the stack's region; configure one (AWS_REGION) or pass -c accessLogs=false")
	}
	return nil
}

// checkImageDir: the image asset's build context must hold the Dockerfile
// and the binary it copies (`make image-stage` writes both). cdk synth only
// copies the folder into the cloud assembly; Docker builds it at deploy.
func checkImageDir(dir string) error {
	for _, f := range []string{"Dockerfile", "hash-stream"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("compute=ecs: %s/%s not found: run `make image-stage` or pass -c imageDir=<folder holding Dockerfile and hash-stream>", dir, f)
			}
			return fmt.Errorf("compute=ecs image: %w", err)
		}
	}
	return nil
}

// checkFargateSize checks a task size against the CPU and memory pairs
// Fargate accepts.
func checkFargateSize(cpu, memMB int) error {
	type span struct{ lo, hi, step int }
	sizes := map[int]span{
		256: {512, 2048, 0}, 512: {1024, 4096, 1024}, 1024: {2048, 8192, 1024},
		2048: {4096, 16384, 1024}, 4096: {8192, 30720, 1024},
		8192: {16384, 61440, 4096}, 16384: {32768, 122880, 8192},
	}
	s, ok := sizes[cpu]
	if !ok {
		return fmt.Errorf("context taskCpu=%d: want 256, 512, 1024, 2048, 4096, 8192 or 16384", cpu)
	}
	valid := memMB >= s.lo && memMB <= s.hi
	if cpu == 256 {
		valid = memMB == 512 || memMB == 1024 || memMB == 2048
	} else if valid {
		valid = (memMB-s.lo)%s.step == 0
	}
	if !valid {
		return fmt.Errorf("context taskMemory=%d: Fargate takes %d to %d MiB with taskCpu=%d (see the README)", memMB, s.lo, s.hi, cpu)
	}
	return nil
}

// ecsService makes the Fargate service of compute=ecs: a VPC, an internal
// Application Load Balancer in its private subnets, the ARM64 tasks from
// the image asset with the gateway's read-only grants, autoscaling on CPU
// and requests, and the CloudFront VPC origin to the load balancer. The
// tasks log to logGroup; logBucket (nil with accessLogs=false) receives
// the load balancer's access logs and the VPC's flow logs.
func (s *GatewayStack) ecsService(cfg Config, logGroup awslogs.LogGroup, logBucket awss3.Bucket) *ECSService {
	stack := s.Stack
	e := &ECSService{}

	// Two AZs; private subnets reach ECR and CloudWatch Logs through one
	// NAT gateway, and S3 (every index and pack read) through a gateway
	// endpoint, which is free and keeps that traffic off the NAT. The
	// public subnets hold the NAT gateway only, and their internet gateway
	// is also what CloudFront VPC origins require of the VPC.
	e.Vpc = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String(VpcCIDR)),
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(1),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(22)},
		},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
	})
	private := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	if logBucket != nil {
		e.Vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
			Destination: awsec2.FlowLogDestination_ToS3(logBucket, jsii.String("vpc/"), nil),
			TrafficType: awsec2.FlowLogTrafficType_REJECT,
		})
	} else {
		cdknag.NagSuppressions_AddResourceSuppressions(e.Vpc, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-VPC7"),
			Reason: jsii.String("Flow logs go to the access log bucket, which is off by context (accessLogs=false)."),
		}}, jsii.Bool(false))
	}

	e.Cluster = awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: e.Vpc})
	cdknag.NagSuppressions_AddResourceSuppressions(e.Cluster, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-ECS4"),
		Reason: jsii.String("The service's CPU and memory utilization (AWS/ECS) and the load balancer's metrics are free and drive autoscaling and the alarms; " +
			"Container Insights adds per-task metrics billed as custom metrics."),
	}}, jsii.Bool(false))

	taskRole := awsiam.NewRole(stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("Hash Stream gateway tasks: read the index and pack objects"),
		// The same statements as the function's role but its logs: the
		// awslogs driver writes with the execution role.
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"GatewayAccess": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: s.gatewayStatements(cfg, nil),
			}),
		},
	})
	s.suppressObjectWildcards(taskRole, cfg)

	e.TaskDef = awsecs.NewFargateTaskDefinition(stack, jsii.String("TaskDef"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(float64(cfg.TaskCPU)),
		MemoryLimitMiB: jsii.Number(float64(cfg.TaskMemoryMB)),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		TaskRole: taskRole,
	})
	env := *functionEnv(cfg, s.IndexBucket.BucketName(), s.PackBucket.BucketName(), s.denylistLocation())
	env[EnvStoreBackend] = jsii.String("s3")
	env[EnvListen] = jsii.String(fmt.Sprintf("0.0.0.0:%d", ContainerPort))
	env[EnvRegion] = stack.Region()
	env[EnvClientFrom] = jsii.String(ViewerAddressHeader)
	env[EnvViewerFrom] = jsii.String(ViewerAddressHeader)
	e.TaskDef.AddContainer(jsii.String("gateway"), &awsecs.ContainerDefinitionOptions{
		// The folder `make image-stage` writes (Dockerfile, static arm64
		// binary, CA certificates, passwd): Docker builds it at `cdk
		// deploy`, cdk synth only copies it.
		Image: awsecs.ContainerImage_FromAsset(jsii.String(cfg.ImageDir), &awsecs.AssetImageProps{
			Platform: awsecrassets.Platform_LINUX_ARM64(),
		}),
		// serve's keep-alive idle timeout above the load balancer's, so the
		// load balancer closes its idle connections to the task first (the
		// image's entrypoint is `hash-stream serve`: these are its flags).
		Command:                jsii.Strings(fmt.Sprintf("--idle-timeout=%ds", serveIdleSeconds(cfg))),
		Essential:              jsii.Bool(true),
		Environment:            &env,
		PortMappings:           &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(ContainerPort), Protocol: awsecs.Protocol_TCP}},
		ReadonlyRootFilesystem: jsii.Bool(true),
		StopTimeout:            awscdk.Duration_Seconds(jsii.Number(ContainerStopTimeoutSeconds)),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logGroup,
			StreamPrefix: jsii.String("gateway"),
		}),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(e.TaskDef, &[]*cdknag.NagPackSuppression{
		{
			Id:     jsii.String("AwsSolutions-ECS2"),
			Reason: jsii.String("The environment holds bucket names, key prefixes, the region, the log level and the listen address: configuration, no secret."),
		},
	}, jsii.Bool(false))
	// The execution role CDK makes pulls the image from the CDK assets
	// repository and writes the task logs to logGroup; only the ECR
	// authorization token has no resource to scope to.
	cdknag.NagSuppressions_AddResourceSuppressions(e.TaskDef.ObtainExecutionRole(), &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("ecr:GetAuthorizationToken takes no resource but *; the image pull itself is scoped to the CDK assets repository."),
		AppliesTo: &[]interface{}{jsii.String("Resource::*")},
	}}, jsii.Bool(true))

	// The load balancer is internal: no public address, reachable only
	// from inside the VPC, where CloudFront's VPC origin places its network
	// interfaces. Its security group admits the VPC's own range on the
	// listener port and nothing else.
	albSG := awsec2.NewSecurityGroup(stack, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              e.Vpc,
		Description:      jsii.String("Hash Stream gateway load balancer: HTTP from the CloudFront VPC origin inside the VPC"),
		AllowAllOutbound: jsii.Bool(false),
	})
	if cfg.CloudFrontPrefixListID != "" {
		// Option 1 of "Restrict access with VPC origins" (Security Group
		// Configuration): the CloudFront managed prefix list. Its ID differs
		// by region and is not known offline, so it is given as context.
		albSG.AddIngressRule(awsec2.Peer_PrefixList(jsii.String(cfg.CloudFrontPrefixListID)), awsec2.Port_Tcp(jsii.Number(LoadBalancerPort)),
			jsii.String("CloudFront (managed prefix list com.amazonaws.global.cloudfront.origin-facing) through the VPC origin"), jsii.Bool(false))
	} else {
		albSG.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(VpcCIDR)), awsec2.Port_Tcp(jsii.Number(LoadBalancerPort)),
			jsii.String("CloudFront VPC origin (its network interfaces are in the VPC)"), jsii.Bool(false))
	}
	e.LoadBalancer = awselasticloadbalancingv2.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:                     e.Vpc,
		InternetFacing:          jsii.Bool(false),
		VpcSubnets:              private,
		SecurityGroup:           albSG,
		DropInvalidHeaderFields: jsii.Bool(true),
		// Between bytes, not for a whole response: a long CAR keeps bytes
		// coming. At least CloudFront's origin read timeout, and longer than
		// its keep-alive timeout, so CloudFront, not the load balancer,
		// closes an idle connection (else a request sent on a connection the
		// load balancer is closing fails).
		IdleTimeout: awscdk.Duration_Seconds(jsii.Number(float64(loadBalancerIdleSeconds(cfg)))),
	})
	if logBucket != nil {
		e.LoadBalancer.LogAccessLogs(logBucket, jsii.String("alb"))
	} else {
		cdknag.NagSuppressions_AddResourceSuppressions(e.LoadBalancer, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-ELB2"),
			Reason: jsii.String("Load balancer access logs go to the access log bucket, which is off by context (accessLogs=false)."),
		}}, jsii.Bool(false))
	}

	taskSG := awsec2.NewSecurityGroup(stack, jsii.String("TaskSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         e.Vpc,
		Description: jsii.String("Hash Stream gateway tasks: HTTP from the load balancer; out to S3, ECR and CloudWatch Logs"),
		// S3 through the gateway endpoint; ECR and CloudWatch Logs through
		// the NAT gateway, at addresses that are not fixed.
		AllowAllOutbound: jsii.Bool(true),
	})
	e.Service = awsecs.NewFargateService(stack, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:           e.Cluster,
		TaskDefinition:    e.TaskDef,
		DesiredCount:      jsii.Number(float64(cfg.MinTasks)),
		VpcSubnets:        private,
		SecurityGroups:    &[]awsec2.ISecurityGroup{taskSG},
		AssignPublicIp:    jsii.Bool(false),
		PlatformVersion:   awsecs.FargatePlatformVersion_LATEST,
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		// A deploy whose tasks never pass the health check rolls back.
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(60)),
	})

	e.TargetGroup = awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String("TargetGroup"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
		Vpc:                 e.Vpc,
		Port:                jsii.Number(ContainerPort),
		Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		TargetType:          awselasticloadbalancingv2.TargetType_IP,
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(DeregistrationDelaySeconds)),
		HealthCheck: &awselasticloadbalancingv2.HealthCheck{
			Path:                    jsii.String(HealthCheckPath),
			Protocol:                awselasticloadbalancingv2.Protocol_HTTP,
			HealthyHttpCodes:        jsii.String("200"),
			Interval:                awscdk.Duration_Seconds(jsii.Number(15)),
			Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
			HealthyThresholdCount:   jsii.Number(2),
			UnhealthyThresholdCount: jsii.Number(3),
		},
		Targets: &[]awselasticloadbalancingv2.IApplicationLoadBalancerTarget{e.Service},
	})
	e.LoadBalancer.AddListener(jsii.String("Http"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port:     jsii.Number(LoadBalancerPort),
		Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		// Open would add 0.0.0.0/0 to the security group.
		Open:                jsii.Bool(false),
		DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{e.TargetGroup},
	})

	scaling := e.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(float64(cfg.MinTasks)),
		MaxCapacity: jsii.Number(float64(cfg.MaxTasks)),
	})
	scaling.ScaleOnCpuUtilization(jsii.String("CpuScaling"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(ScaleCPUPercent),
		ScaleOutCooldown:         awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:          awscdk.Duration_Seconds(jsii.Number(300)),
	})
	scaling.ScaleOnRequestCount(jsii.String("RequestScaling"), &awsecs.RequestCountScalingProps{
		RequestsPerTarget: jsii.Number(ScaleRequestsPerTarget),
		TargetGroup:       e.TargetGroup,
		ScaleOutCooldown:  awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:   awscdk.Duration_Seconds(jsii.Number(300)),
	})

	// HTTP from CloudFront's VPC origin to the load balancer: the traffic
	// stays on AWS's network and inside the VPC; HTTPS would need a
	// certificate for a domain on an internal load balancer.
	e.Origin = awscloudfrontorigins.VpcOrigin_WithApplicationLoadBalancer(e.LoadBalancer, &awscloudfrontorigins.VpcOriginWithEndpointProps{
		// Account-global: see accountGlobalName.
		VpcOriginName:      accountGlobalName(stack, "LoadBalancer", 64),
		ProtocolPolicy:     awscloudfront.OriginProtocolPolicy_HTTP_ONLY,
		HttpPort:           jsii.Number(LoadBalancerPort),
		ReadTimeout:        awscdk.Duration_Seconds(jsii.Number(float64(cfg.OriginReadTimeoutSeconds))),
		KeepaliveTimeout:   awscdk.Duration_Seconds(jsii.Number(float64(cfg.OriginKeepaliveTimeoutSeconds))),
		OriginShieldRegion: originShieldRegion(cfg),
	})
	return e
}

// idleMarginSeconds separates each hop's idle timeout from the next one's.
const idleMarginSeconds = 5

// loadBalancerIdleSeconds is the load balancer's idle timeout: at least
// the origin read timeout (the longest pause within a response CloudFront
// accepts) and above CloudFront's keep-alive timeout.
func loadBalancerIdleSeconds(cfg Config) int {
	return max(cfg.OriginReadTimeoutSeconds, cfg.OriginKeepaliveTimeoutSeconds+idleMarginSeconds)
}

// serveIdleSeconds is serve's keep-alive idle timeout: above the load
// balancer's ("Application Load Balancers" user guide, Connection idle
// timeout: configure the application's keep-alive timeout above the load
// balancer's idle timeout).
func serveIdleSeconds(cfg Config) int {
	return loadBalancerIdleSeconds(cfg) + idleMarginSeconds
}

// Alarm thresholds of compute=ecs (alarms=true).
const (
	// AlarmLoadBalancer5xx: the load balancer answered 5xx itself (no
	// healthy task, a task that closed the connection) this many times in
	// 5 minutes. The gateway's own 5xx are responses, not failures.
	AlarmLoadBalancer5xx = 5
	// AlarmCPUPercent: the service's average CPU stays above this in 3
	// periods: it is at maxTasks and still loaded.
	AlarmCPUPercent = 85
)

// ecsAlarms makes the service's alarms with alarm (monitoring's helper)
// and returns its dashboard row.
func (s *GatewayStack) ecsAlarms(alarm func(string, awscloudwatch.Metric, *awscloudwatch.CreateAlarmOptions) awscloudwatch.Alarm) []awscloudwatch.IWidget {
	e := s.ECS
	opts := func(stat string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String(stat)}
	}
	tgm := e.TargetGroup.Metrics()
	unhealthy := tgm.UnhealthyHostCount(opts("Maximum"))
	alarm("UnhealthyTasksAlarm", unhealthy, &awscloudwatch.CreateAlarmOptions{
		AlarmDescription: jsii.String("At least one gateway task fails its " + HealthCheckPath + " health check (stores not answering) in 2 of 3 periods of 5 minutes"),
		Threshold:        jsii.Number(1), EvaluationPeriods: jsii.Number(3), DatapointsToAlarm: jsii.Number(2),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
	})
	elb5xx := e.LoadBalancer.Metrics().HttpCodeElb(awselasticloadbalancingv2.HttpCodeElb_ELB_5XX_COUNT, opts("Sum"))
	alarm("LoadBalancer5xxAlarm", elb5xx, &awscloudwatch.CreateAlarmOptions{
		AlarmDescription: jsii.String(fmt.Sprintf("The load balancer answered 5xx itself (no healthy task, connection errors) at least %d times in 5 minutes", AlarmLoadBalancer5xx)),
		Threshold:        jsii.Number(AlarmLoadBalancer5xx), EvaluationPeriods: jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
	})
	cpu := e.Service.MetricCpuUtilization(opts("Average"))
	alarm("ServiceCpuAlarm", cpu, &awscloudwatch.CreateAlarmOptions{
		AlarmDescription: jsii.String(fmt.Sprintf("Gateway service CPU above %d%% in 3 periods of 5 minutes: at maxTasks and still loaded", AlarmCPUPercent)),
		Threshold:        jsii.Number(AlarmCPUPercent), EvaluationPeriods: jsii.Number(3),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
	})
	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.GraphWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6),
		})
	}
	return []awscloudwatch.IWidget{
		graph("Load balancer requests and 5xx", tgm.RequestCount(opts("Sum")), elb5xx,
			tgm.HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT, opts("Sum"))),
		graph("Service CPU and memory %", cpu, e.Service.MetricMemoryUtilization(opts("Average"))),
		graph("Healthy and unhealthy tasks", tgm.HealthyHostCount(opts("Minimum")), unhealthy),
	}
}
