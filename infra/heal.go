package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogsdestinations"
	"github.com/aws/jsii-runtime-go"
)

// Self-healing (issue 22): a response cut after its first byte may be
// cached by CloudFront as if complete (behind a Function URL nothing tells
// a short body), so every cut the gateway logs is turned into an
// invalidation of its path. A subscription filter on the gateway's log
// group (the function's, or the ECS tasks': the same group) sends the
// "response aborted" lines to the invalidator function
// (functions/invalidator, package heal), which invalidates their paths on
// this distribution, within an hourly limit. Metric filters count the
// cuts, the paths invalidated and the paths dropped; alarms (alarms=true)
// fire on cuts, drops and the invalidator's errors.
//
// No dependency cycle: the log group comes before the gateway, the
// distribution after it (its origin), the invalidator after both (it
// names the distribution), and the subscription after the invalidator.

// Environment variables of the invalidator (functions/invalidator/config.go
// reads them; its TestInfraEnvIsWhatTheFunctionReads reads these constants
// from this file), besides EnvLogLevel.
const (
	EnvDistributionID       = "HASH_STREAM_DISTRIBUTION_ID"
	EnvInvalidationsPerHour = "HASH_STREAM_INVALIDATIONS_PER_HOUR"
)

// Log messages the filters match (the msg of JSON lines): the gateway's
// line of a cut response (lib/gateway), and the invalidator's lines of
// paths invalidated and not (lib/heal). infra imports nothing from lib/:
// TestHealMessages checks these against heal's constants.
const (
	AbortedLogMessage     = "response aborted"
	InvalidatedLogMessage = "heal: invalidated"
	DroppedLogMessage     = "heal: not invalidated"
)

// Metrics of the metric filters, in metricsNamespace or, without one,
// HealMetricNamespacePrefix + the stack name.
const (
	HealMetricNamespacePrefix = "HashStream/"
	// ResponsesAbortedMetric counts responses cut after their first byte.
	ResponsesAbortedMetric = "ResponsesAborted"
	// InvalidationPathsMetric counts the paths invalidated (each past the
	// account's free 1,000 a month is billed).
	InvalidationPathsMetric = "InvalidationPaths"
	// InvalidationPathsDroppedMetric counts the paths of cut responses not
	// invalidated (hourly limit, CloudFront busy or failing).
	InvalidationPathsDroppedMetric = "InvalidationPathsDropped"
)

// Invalidator settings and the defaults of its context keys.
const (
	DefaultInvalidatorLambdaDir       = "build/lambda/invalidator"
	DefaultInvalidatorLambdaDirX86_64 = "build/lambda/invalidator-amd64"
	// DefaultInvalidationsPerHour is heal.DefaultHourlyLimit: at most 30
	// paths an hour, so at most 22,320 in a 31-day month, $106.60 past the
	// free 1,000 at $0.005 a path (CloudFront pricing) if every hour of it
	// met the limit.
	DefaultInvalidationsPerHour = 30
	MaxInvalidationsPerHour     = 3000
	// DefaultInvalidatorConcurrency: one execution at a time, so the
	// hourly limit, counted in the process, holds for the function.
	DefaultInvalidatorConcurrency = 1
	InvalidatorMemoryMB           = 128
	// InvalidatorTimeoutSeconds leaves room for heal.DefaultMaxWait (2
	// minutes of waiting while CloudFront has too many invalidations in
	// progress) and the calls around it.
	InvalidatorTimeoutSeconds = 180
)

// HealConfig is the self-healing part of Config.
type HealConfig struct {
	// InvalidatorLambdaDir holds the invalidator's bootstrap, built for
	// Architecture.
	InvalidatorLambdaDir string
	// InvalidationsPerHour is the most paths invalidated in an hour.
	InvalidationsPerHour int
	// InvalidatorConcurrency is the invalidator's reserved concurrency: 1,
	// or 0 for none (an account whose concurrency quota leaves nothing to
	// reserve; the hourly limit then holds per execution environment).
	InvalidatorConcurrency int
}

// readHealConfig reads the keys invalidatorLambdaDir, invalidationsPerHour
// and invalidatorConcurrency (in ContextKeys).
func readHealConfig(r *contextReader, arch string) HealConfig {
	return HealConfig{
		InvalidatorLambdaDir:   r.str("invalidatorLambdaDir", defaultInvalidatorLambdaDir(arch)),
		InvalidationsPerHour:   r.integer("invalidationsPerHour", DefaultInvalidationsPerHour, 1, MaxInvalidationsPerHour),
		InvalidatorConcurrency: r.integer("invalidatorConcurrency", DefaultInvalidatorConcurrency, 0, 1),
	}
}

func defaultInvalidatorLambdaDir(arch string) string {
	if arch == ArchX86_64 {
		return DefaultInvalidatorLambdaDirX86_64
	}
	return DefaultInvalidatorLambdaDir
}

// checkInvalidatorCode is checkLambdaCode for the invalidator.
func checkInvalidatorCode(cfg Config) error {
	return checkBootstrap("invalidator code", "invalidatorLambdaDir", cfg.Heal.InvalidatorLambdaDir, cfg.Architecture, defaultInvalidatorLambdaDir(cfg.Architecture))
}

// Heal is the self-healing part of the stack.
type Heal struct {
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
	// Subscription sends the gateway's cut lines to Function.
	Subscription awslogs.SubscriptionFilter
	// Aborted, Invalidated and Dropped count the cuts (on the gateway's
	// log group), the paths invalidated and the paths dropped (on the
	// invalidator's).
	Aborted, Invalidated, Dropped awslogs.MetricFilter
	// Alarms (alarms=true): cuts, drops, invalidator errors.
	AbortedAlarm, DroppedAlarm, ErrorsAlarm awscloudwatch.Alarm
}

// jsonMsg is the filter pattern of JSON lines whose msg is msg.
func jsonMsg(msg string) awslogs.IFilterPattern {
	return awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(msg))
}

// healNamespace is where the filters publish their metrics.
func healNamespace(cfg Config) string {
	if cfg.MetricsNamespace != "" {
		return cfg.MetricsNamespace
	}
	return HealMetricNamespacePrefix + cfg.StackName
}

// heal makes the invalidator, its subscription to gateway (the gateway's
// log group), the metric filters, and with alarms=true the alarms and
// dashboard widgets. After the distribution, monitoring and ingest.
func (s *GatewayStack) heal(cfg Config, gateway awslogs.LogGroup, removal awscdk.RemovalPolicy) *Heal {
	stack := s.Stack
	h := &Heal{}
	h.LogGroup = awslogs.NewLogGroup(stack, jsii.String("InvalidatorLogGroup"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: removal,
	})
	h.Role = awsiam.NewRole(stack, jsii.String("InvalidatorRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Hash Stream invalidator: invalidate paths of cut responses on this stack's distribution, write its own logs"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"InvalidatorAccess": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{
					allow("InvalidateThisDistribution", []string{"cloudfront:CreateInvalidation"}, *s.Distribution.DistributionArn()),
					// The log group's Arn attribute ends in ":*" (its streams).
					allow("WriteOwnLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, *h.LogGroup.LogGroupArn()),
				},
			}),
		},
	})
	var reserved *float64
	if cfg.Heal.InvalidatorConcurrency > 0 {
		reserved = jsii.Number(float64(cfg.Heal.InvalidatorConcurrency))
	}
	h.Function = awslambda.NewFunction(stack, jsii.String("InvalidatorFunction"), &awslambda.FunctionProps{
		Description:  jsii.String("Hash Stream invalidator: CloudFront invalidations of the paths of responses cut after their first byte"),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: lambdaArchitecture(cfg),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(cfg.Heal.InvalidatorLambdaDir), nil),
		MemorySize:   jsii.Number(InvalidatorMemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(InvalidatorTimeoutSeconds)),
		Role:         h.Role,
		LogGroup:     h.LogGroup,
		Environment: &map[string]*string{
			EnvDistributionID:       s.Distribution.DistributionId(),
			EnvInvalidationsPerHour: jsii.String(strconv.Itoa(cfg.Heal.InvalidationsPerHour)),
			EnvLogLevel:             jsii.String(cfg.LogLevel),
		},
		// One execution at a time: deliveries queue (Lambda keeps
		// asynchronous events up to 6 hours) instead of running past the
		// hourly limit in parallel processes.
		ReservedConcurrentExecutions: reserved,
	})

	// Only the cut lines reach the function (its permission to be invoked
	// by CloudWatch Logs for this log group comes with the destination).
	h.Subscription = awslogs.NewSubscriptionFilter(stack, jsii.String("CutsSubscription"), &awslogs.SubscriptionFilterProps{
		LogGroup:      gateway,
		Destination:   awslogsdestinations.NewLambdaDestination(h.Function, nil),
		FilterPattern: jsonMsg(AbortedLogMessage),
	})

	ns := jsii.String(healNamespace(cfg))
	h.Aborted = awslogs.NewMetricFilter(stack, jsii.String("ResponsesAbortedFilter"), &awslogs.MetricFilterProps{
		LogGroup: gateway, FilterPattern: jsonMsg(AbortedLogMessage),
		MetricNamespace: ns, MetricName: jsii.String(ResponsesAbortedMetric), MetricValue: jsii.String("1"),
	})
	h.Invalidated = awslogs.NewMetricFilter(stack, jsii.String("InvalidationPathsFilter"), &awslogs.MetricFilterProps{
		LogGroup: h.LogGroup, FilterPattern: jsonMsg(InvalidatedLogMessage),
		MetricNamespace: ns, MetricName: jsii.String(InvalidationPathsMetric), MetricValue: jsii.String("$.paths"),
	})
	h.Dropped = awslogs.NewMetricFilter(stack, jsii.String("InvalidationPathsDroppedFilter"), &awslogs.MetricFilterProps{
		LogGroup: h.LogGroup, FilterPattern: jsonMsg(DroppedLogMessage),
		MetricNamespace: ns, MetricName: jsii.String(InvalidationPathsDroppedMetric), MetricValue: jsii.String("$.paths"),
	})

	awscdk.NewCfnOutput(stack, jsii.String("InvalidatorFunctionName"), &awscdk.CfnOutputProps{
		Value: h.Function.FunctionName(), Description: jsii.String("Invalidator Lambda function name (invalidations of cut responses)"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("InvalidatorLogGroupName"), &awscdk.CfnOutputProps{
		Value: h.LogGroup.LogGroupName(), Description: jsii.String("Invalidator log group: the paths invalidated and dropped (aws logs tail <this>)"),
	})

	if cfg.Alarms {
		s.healAlarms(h)
	}
	return h
}

// healAlarms: a cut (its path is being invalidated: worth knowing, and a
// sign of corruption or storage errors), a dropped path (a cut response
// that may stay cached: invalidate it by hand, see infra/README), and a
// failed invalidator invocation (a delivery it could not decode, a crash,
// a timeout). They notify the alarm topic when there is one, and go on the
// dashboard.
func (s *GatewayStack) healAlarms(h *Heal) {
	var action awscloudwatch.IAlarmAction
	if s.AlarmTopic != nil {
		action = awscloudwatchactions.NewSnsAction(s.AlarmTopic)
	}
	sum := &awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String("Sum")}
	alarm := func(id, desc string, m awscloudwatch.Metric) awscloudwatch.Alarm {
		a := m.CreateAlarm(s.Stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(desc),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if action != nil {
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
		s.Alarms = append(s.Alarms, a)
		return a
	}
	aborted, invalidated, dropped := h.Aborted.Metric(sum), h.Invalidated.Metric(sum), h.Dropped.Metric(sum)
	h.AbortedAlarm = alarm("ResponsesAbortedAlarm",
		"Gateway responses cut after their first byte in 5 minutes (corrupt blocks, storage errors, size or time limits): their paths are being invalidated", aborted)
	h.DroppedAlarm = alarm("InvalidationsDroppedAlarm",
		"Paths of cut responses NOT invalidated in 5 minutes (hourly limit, CloudFront busy or failing): they may stay cached; the invalidator's log lists them", dropped)
	h.ErrorsAlarm = alarm("InvalidatorErrorsAlarm",
		"Invalidator invocations failed in 5 minutes (an undecodable delivery, a crash, a timeout): cut responses may stay cached",
		h.Function.MetricErrors(sum))
	if s.Dashboard != nil {
		s.Dashboard.AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("Cut responses and their invalidations"), Width: jsii.Number(8), Height: jsii.Number(6),
			Left: &[]awscloudwatch.IMetric{aborted, invalidated, dropped},
		}))
	}
}
