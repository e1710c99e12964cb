package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Alarm thresholds (alarms=true).
const (
	// AlarmDurationFraction: the duration alarm fires when the function's
	// p99 duration passes this fraction of its timeout, before responses
	// start being cut by it.
	AlarmDurationFraction = 0.8
	// AlarmCloudFront5xxPercent is the CloudFront 5xx error rate (percent of
	// requests) above which the 5xx alarm fires.
	AlarmCloudFront5xxPercent = 5
	// AlarmTTFBMillis is the p99 time to first byte (an EMF metric, with
	// metricsNamespace) above which the TTFB alarm fires.
	AlarmTTFBMillis = 5000
)

// alarmPeriod is the period of every alarm and dashboard metric: the
// shortest standard-resolution period CloudFront metrics have is 1 minute,
// 5 minutes smooths single slow requests.
var alarmPeriod = awscdk.Duration_Minutes(jsii.Number(5))

// monitoring makes the alarms, the optional SNS topic they notify and the
// dashboard. CloudFront publishes its metrics in us-east-1 only, and an
// alarm watches metrics of its own region: the 5xx alarm exists only in a
// us-east-1 stack (a condition on AWS::Region when the region is not known
// at synth time); the dashboard shows CloudFront from us-east-1 anywhere.
func (s *GatewayStack) monitoring(cfg Config) {
	stack := s.Stack
	var action awscloudwatch.IAlarmAction
	if cfg.AlarmEmail != "" {
		topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("Hash Stream gateway alarms"),
			EnforceSSL:  jsii.Bool(true),
		})
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.AlarmEmail), nil))
		cdknag.NagSuppressions_AddResourceSuppressions(topic, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-SNS2"),
			Reason: jsii.String("Alarm notifications carry alarm names and states, nothing secret. CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, " +
				"and a customer managed key costs $1 a month for no gain here."),
		}}, jsii.Bool(true))
		action = awscloudwatchactions.NewSnsAction(topic)
		s.AlarmTopic = topic
	}
	alarm := func(id string, metric awscloudwatch.Metric, opts *awscloudwatch.CreateAlarmOptions) awscloudwatch.Alarm {
		if opts.TreatMissingData == "" {
			// No traffic is not a failure.
			opts.TreatMissingData = awscloudwatch.TreatMissingData_NOT_BREACHING
		}
		a := metric.CreateAlarm(stack, jsii.String(id), opts)
		if action != nil {
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
		s.Alarms = append(s.Alarms, a)
		return a
	}
	fnOpts := func(stat string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String(stat)}
	}

	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.GraphWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6),
		})
	}
	var row1 []awscloudwatch.IWidget
	if s.ECS != nil {
		row1 = s.ecsAlarms(alarm)
	} else {
		fnErrors := s.Function.MetricErrors(fnOpts("Sum"))
		alarm("FunctionErrorsAlarm", fnErrors, &awscloudwatch.CreateAlarmOptions{
			AlarmDescription: jsii.String("Gateway function errors (crashes, timeouts, runtime errors; HTTP error responses are not errors) in 5 minutes"),
			Threshold:        jsii.Number(1), EvaluationPeriods: jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		})
		throttles := s.Function.MetricThrottles(fnOpts("Sum"))
		alarm("FunctionThrottlesAlarm", throttles, &awscloudwatch.CreateAlarmOptions{
			AlarmDescription: jsii.String("Gateway function throttled (reserved concurrency or the account's concurrency reached) in 5 minutes"),
			Threshold:        jsii.Number(1), EvaluationPeriods: jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		})
		durationLimit := AlarmDurationFraction * float64(cfg.TimeoutSeconds) * 1000
		alarm("FunctionDurationAlarm", s.Function.MetricDuration(fnOpts("p99")), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription: jsii.String(fmt.Sprintf("Gateway function p99 duration above %.0f%% of its %d s timeout", AlarmDurationFraction*100, cfg.TimeoutSeconds)),
			Threshold:        jsii.Number(durationLimit), EvaluationPeriods: jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		})
		row1 = []awscloudwatch.IWidget{
			graph("Function invocations, errors, throttles", s.Function.MetricInvocations(fnOpts("Sum")), fnErrors, throttles),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("Function duration (ms)"), Width: jsii.Number(8), Height: jsii.Number(6),
				Left: &[]awscloudwatch.IMetric{s.Function.MetricDuration(fnOpts("p50")), s.Function.MetricDuration(fnOpts("p99")), s.Function.MetricDuration(fnOpts("Maximum"))},
				LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{{
					Value: jsii.Number(float64(cfg.TimeoutSeconds) * 1000), Label: jsii.String("timeout"),
				}},
			}),
			graph("Function concurrent executions", s.Function.Metric(jsii.String("ConcurrentExecutions"), fnOpts("Maximum"))),
		}
	}

	cfMetric := func(name, stat, region string) awscloudwatch.Metric {
		props := &awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/CloudFront"),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"DistributionId": s.Distribution.DistributionId(), "Region": jsii.String("Global")},
			Period:        alarmPeriod,
			Statistic:     jsii.String(stat),
		}
		if region != "" {
			props.Region = jsii.String(region)
		}
		return awscloudwatch.NewMetric(props)
	}
	region := stack.Region()
	regionKnown := !*awscdk.Token_IsUnresolved(region)
	if !regionKnown || *region == "us-east-1" {
		a := alarm("CloudFront5xxAlarm", cfMetric("5xxErrorRate", "Average", ""), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription: jsii.String(fmt.Sprintf("CloudFront 5xx error rate above %d%% in 2 of 3 periods of 5 minutes", AlarmCloudFront5xxPercent)),
			Threshold:        jsii.Number(AlarmCloudFront5xxPercent), EvaluationPeriods: jsii.Number(3), DatapointsToAlarm: jsii.Number(2),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		})
		if !regionKnown {
			cond := awscdk.NewCfnCondition(stack, jsii.String("InUsEast1"), &awscdk.CfnConditionProps{
				Expression: awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), jsii.String("us-east-1")),
			})
			a.Node().DefaultChild().(awscloudwatch.CfnAlarm).CfnOptions().SetCondition(cond)
		}
	}

	var emf []awscloudwatch.IMetric
	if cfg.MetricsNamespace != "" {
		// The function's Embedded Metric Format metrics (functions/gateway/emf.go),
		// published without dimensions.
		m := func(name, stat string) awscloudwatch.Metric {
			return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String(cfg.MetricsNamespace), MetricName: jsii.String(name),
				Period: alarmPeriod, Statistic: jsii.String(stat),
			})
		}
		ttfb := m("ttfb_ms", "p99")
		alarm("TTFBAlarm", ttfb, &awscloudwatch.CreateAlarmOptions{
			AlarmDescription: jsii.String(fmt.Sprintf("Gateway p99 time to first byte above %d ms (slow index or pack reads) in 2 of 3 periods of 5 minutes", AlarmTTFBMillis)),
			Threshold:        jsii.Number(AlarmTTFBMillis), EvaluationPeriods: jsii.Number(3), DatapointsToAlarm: jsii.Number(2),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		})
		emf = []awscloudwatch.IMetric{ttfb, m("bytes", "Sum"), m("storage_reads", "Sum"), m("index_cache_hits", "Sum"), m("index_cache_misses", "Sum")}
	}

	s.denylistAlarm(cfg, alarm)

	row2 := []awscloudwatch.IWidget{
		graph("CloudFront requests (us-east-1)", cfMetric("Requests", "Sum", "us-east-1")),
		graph("CloudFront error rates % (us-east-1)", cfMetric("4xxErrorRate", "Average", "us-east-1"), cfMetric("5xxErrorRate", "Average", "us-east-1")),
		graph("CloudFront bytes downloaded (us-east-1)", cfMetric("BytesDownloaded", "Sum", "us-east-1")),
	}
	rows := []*[]awscloudwatch.IWidget{&row1, &row2}
	if len(emf) > 0 {
		row3 := []awscloudwatch.IWidget{
			graph("Gateway TTFB p99 (ms)", emf[0]),
			graph("Gateway bytes and storage reads", emf[1], emf[2]),
			graph("Index cache hits and misses", emf[3], emf[4]),
		}
		rows = append(rows, &row3)
	}
	s.Dashboard = awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Days(jsii.Number(1)),
		Widgets:         &rows,
	})
}
