package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Takedowns (issue 23): where the IPIP-383 denylists live in S3, the list
// the stack starts them with, the gateway's read-only grants on them, the
// edge denylist (a CloudFront KeyValueStore the viewer-request function
// reads) and the alarm on failed reloads. `hash-stream deny` edits both
// lists (DenylistLocation, DenylistKvsArn and DistributionId are its
// inputs).

// Context values of "denylist": on (the stack's own bucket, the default),
// off, or an existing s3://bucket/prefix/.
const (
	DenylistOn  = "true"
	DenylistOff = "false"
)

// DenylistPrefix is the lists' key prefix in the bucket the stack makes;
// TakedownsListName is the list it starts there (and the one `hash-stream
// deny` edits by default).
const (
	DenylistPrefix    = "denylist/"
	TakedownsListName = "takedowns.deny"
)

// InitialTakedowns is the list the stack writes when there is none: what
// lib/denylist.NewTakedowns returns (infra imports nothing from lib/;
// TestInitialTakedowns checks the two agree and that it parses). A list
// must hold a rule, or the gateway refuses it and fails to start: the
// exception is for content nobody has.
const InitialTakedowns = "# Takedowns of this gateway, edited by `hash-stream deny`.\n" +
	"# The exception below matches no content: it keeps the list valid\n" +
	"# while it holds no takedown (a list without a rule is refused).\n" +
	"!/ipfs/bafkreig7hk43eaerdribxrygpen3732rroyadqvuqre2igrxqohoh6jqse\n"

// DenylistReloadFailuresMetric is the gateway's count of failed list
// reloads: a field of the function's EMF request line
// (functions/gateway/emf.go), or, where there is no EMF (ECS, or no
// metricsNamespace), counted from the error line by a metric filter.
const DenylistReloadFailuresMetric = "denylist_reload_failures"

// DenylistReloadFailedLog is the start of the message the gateway logs
// when a new version of a list cannot be read or parsed
// (lib/denylist/watch.go): the last good one stays in force.
const DenylistReloadFailedLog = "denylist reload failed"

// DenylistMetricNamespace is the metric filter's namespace when the stack
// has no metricsNamespace.
const DenylistMetricNamespace = "HashStream/Denylist"

// Denylist is the stack's takedown machinery (nil with denylist=false).
type Denylist struct {
	// Bucket holds the lists under Prefix: the stack's own, or the bucket
	// of an existing location (imported by name).
	Bucket awss3.IBucket
	Prefix string
	// Initial writes InitialTakedowns when no such object exists; nil for
	// an existing location, which the stack does not write to.
	Initial customresources.AwsCustomResource
	// KVS is the edge denylist.
	KVS awscloudfront.KeyValueStore
	// logGroup is the gateway's, where reload failures are logged.
	logGroup awslogs.ILogGroup
}

// Location is what HASH_STREAM_DENYLIST holds: s3://bucket/prefix/.
func (d *Denylist) Location() *string {
	return jsii.String("s3://" + *d.Bucket.BucketName() + "/" + d.Prefix)
}

// denylistValue is the context value with true and false in any case.
func denylistValue(v string) string {
	for _, b := range []string{DenylistOn, DenylistOff} {
		if strings.EqualFold(v, b) {
			return b
		}
	}
	return v
}

var denylistLocationRE = regexp.MustCompile(`^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)$`)

// parseDenylistLocation splits an existing s3://bucket/prefix/.
func parseDenylistLocation(s string) (bucket, prefix string, ok bool) {
	m := denylistLocationRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// validateDenylist checks the denylist context value.
func (c Config) validateDenylist() error {
	switch c.Denylist {
	case DenylistOn, DenylistOff, "":
		// "": a Config made in code, not from context: on.
		return nil
	}
	_, prefix, ok := parseDenylistLocation(c.Denylist)
	if !ok || (prefix != "" && !strings.HasSuffix(prefix, "/")) || strings.HasPrefix(prefix, "/") ||
		strings.ContainsAny(prefix, "*?") || strings.Contains(prefix, "//") {
		return fmt.Errorf("context denylist=%q: want true (a bucket of the stack's own), false (no takedowns) or an existing s3://bucket/prefix/ (the prefix ending in /)", c.Denylist)
	}
	return nil
}

// denylist makes the lists' bucket (or imports the existing location's),
// the initial list and the edge denylist. It runs before the gateway's
// roles are made: their statements read it.
func (s *GatewayStack) denylist(cfg Config, logBucket awss3.IBucket, logGroup awslogs.ILogGroup, removal awscdk.RemovalPolicy) *Denylist {
	if cfg.Denylist == DenylistOff {
		return nil
	}
	stack := s.Stack
	d := &Denylist{logGroup: logGroup}
	if bucket, prefix, ok := parseDenylistLocation(cfg.Denylist); ok {
		// An existing location: read only. It must already hold a valid
		// list, or the gateway fails to start (infra/README.md, Takedowns).
		d.Bucket = awss3.Bucket_FromBucketName(stack, jsii.String("DenylistBucket"), jsii.String(bucket))
		d.Prefix = prefix
	} else {
		props := &awss3.BucketProps{
			BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
			EnforceSSL:        jsii.Bool(true),
			Encryption:        awss3.BucketEncryption_S3_MANAGED,
			ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
			RemovalPolicy:     removal,
			// Every edit of a list is a new version: a list overwritten or
			// deleted by mistake (new gateway instances would refuse to
			// start without it) is restored from the previous one, and the
			// versions are the takedowns' history.
			Versioned: jsii.Bool(true),
			LifecycleRules: &[]*awss3.LifecycleRule{{
				Id:                          jsii.String("expire-old-list-versions"),
				NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(DenylistVersionDays)),
			}},
		}
		if logBucket != nil {
			props.ServerAccessLogsBucket = logBucket
			props.ServerAccessLogsPrefix = jsii.String("s3/denylist/")
		}
		b := awss3.NewBucket(stack, jsii.String("DenylistBucket"), props)
		if logBucket == nil {
			cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{{
				Id:     jsii.String("AwsSolutions-S1"),
				Reason: jsii.String("Server access logs are off by context (accessLogs=false) to keep a log bucket out of the account."),
			}}, jsii.Bool(true))
		}
		d.Bucket, d.Prefix = b, DenylistPrefix
		d.Initial = s.initialTakedowns(cfg, d)
	}
	d.KVS = awscloudfront.NewKeyValueStore(stack, jsii.String("DenylistKvs"), &awscloudfront.KeyValueStoreProps{
		// Account-global, like the CloudFront Function (names.go).
		KeyValueStoreName: accountGlobalName(stack, "Denylist", 64),
		Comment:           jsii.String("Hash Stream gateway: edge denylist, lowercase hex multihash -> HTTP status (hash-stream deny)"),
	})
	return d
}

// DenylistVersionDays is how long a replaced version of a list is kept.
const DenylistVersionDays = 365

// initialTakedowns writes InitialTakedowns to <prefix>takedowns.deny at
// create time, only if no object is there (If-None-Match: *): it never
// overwrites a list, say one a retained bucket kept from an earlier stack.
// An AWS SDK call from a CDK-provided function (CloudFormation has no S3
// object resource); the gateway depends on it, so it exists before the
// first invocation.
func (s *GatewayStack) initialTakedowns(cfg Config, d *Denylist) customresources.AwsCustomResource {
	stack := s.Stack
	key := d.Prefix + TakedownsListName
	put := &customresources.AwsSdkCall{
		Service: jsii.String("S3"),
		Action:  jsii.String("putObject"),
		Parameters: map[string]interface{}{
			"Bucket":      d.Bucket.BucketName(),
			"Key":         key,
			"Body":        InitialTakedowns,
			"ContentType": "text/plain; charset=utf-8",
			"IfNoneMatch": "*",
		},
		// 412: a list is there already (kept as it is); 409: another
		// writer raced this one.
		IgnoreErrorCodesMatching: jsii.String("PreconditionFailed|ConditionalRequestConflict"),
		PhysicalResourceId:       customresources.PhysicalResourceId_Of(jsii.String("takedowns-list")),
	}
	logGroup := awslogs.NewLogGroup(stack, jsii.String("InitialTakedownsLogGroup"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	cr := customresources.NewAwsCustomResource(stack, jsii.String("InitialTakedowns"), &customresources.AwsCustomResourceProps{
		OnCreate: put,
		// Only what is missing is written, so an update (a new bucket) may
		// run it again.
		OnUpdate:            put,
		InstallLatestAwsSdk: jsii.Bool(false),
		LogGroup:            logGroup,
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{
			allow("WriteInitialTakedowns", []string{"s3:PutObject"}, *d.Bucket.ArnForObjects(jsii.String(key))),
		}),
	})
	// The function CDK makes for AwsCustomResource (one per stack).
	provider := stack.Node().FindChild(jsii.String(awsCustomResourceProviderID))
	cdknag.NagSuppressions_AddResourceSuppressions(provider, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM4"),
		Reason: jsii.String("CDK's AwsCustomResource function writes the initial takedowns list once, at deploy time; " +
			"its role has AWSLambdaBasicExecutionRole (its own logs) and s3:PutObject on that one key."),
		AppliesTo: &[]interface{}{jsii.String("Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")},
	}}, jsii.Bool(true))
	return cr
}

// awsCustomResourceProviderID is the construct ID of the singleton function
// behind every AwsCustomResource of a stack.
const awsCustomResourceProviderID = "AWS679f53fac002430cb0da5b7982bd2287"

// denylistStatements are the gateway's read-only grants on the lists
// (function and ECS task roles): the watcher lists the prefix for *.deny
// files and their ETags, and reads the ones that changed.
func (s *GatewayStack) denylistStatements() []awsiam.PolicyStatement {
	d := s.Denylist
	if d == nil {
		return nil
	}
	list := &awsiam.PolicyStatementProps{
		Sid:       jsii.String("ListDenylist"),
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: jsii.Strings(*d.Bucket.BucketArn()),
	}
	if d.Prefix != "" {
		list.Conditions = &map[string]interface{}{
			"StringLike": map[string]interface{}{"s3:prefix": d.Prefix + "*"},
		}
	}
	return []awsiam.PolicyStatement{
		allow("ReadDenylist", []string{"s3:GetObject"}, *d.Bucket.ArnForObjects(jsii.String(d.Prefix + "*"))),
		awsiam.NewPolicyStatement(list),
	}
}

// denylistWildcards is the object wildcard of ReadDenylist, for the roles'
// AwsSolutions-IAM5 suppression: list names are the operator's.
func (s *GatewayStack) denylistWildcards(cfg Config) []interface{} {
	if s.Denylist == nil {
		return nil
	}
	imported := ""
	if bucket, _, ok := parseDenylistLocation(cfg.Denylist); ok {
		imported = bucket
	}
	return []interface{}{&cdknag.RegexAppliesTo{Regex: jsii.String(objectWildcardRegex("DenylistBucket", imported, s.Denylist.Prefix))}}
}

// denylistLocation is the gateway's HASH_STREAM_DENYLIST (nil: none).
func (s *GatewayStack) denylistLocation() *string {
	if s.Denylist == nil {
		return nil
	}
	return s.Denylist.Location()
}

// denylistKVS is the edge denylist the cache-key function reads (nil:
// none).
func (s *GatewayStack) denylistKVS() awscloudfront.IKeyValueStore {
	if s.Denylist == nil {
		return nil
	}
	return s.Denylist.KVS
}

// denylistDepends makes the gateway (the function, or the ECS service)
// wait for the initial list: a configured list missing at start fails
// the gateway's start, by design.
func (s *GatewayStack) denylistDepends() {
	if s.Denylist == nil || s.Denylist.Initial == nil {
		return
	}
	var gateway constructs.IConstruct = s.Function
	if s.ECS != nil {
		gateway = s.ECS.Service
	}
	gateway.Node().AddDependency(s.Denylist.Initial)
}

// denylistAlarm alarms when a list reload failed in 5 minutes: the last
// good version stays in force, so an operator's takedown (or unblock) is
// not. The function's EMF metric with metricsNamespace; else (ECS, which
// has no EMF, or no namespace) a metric filter on the gateway's log group
// counts the error lines, published only when one matches (a custom metric
// costs nothing in the hours it has no data).
func (s *GatewayStack) denylistAlarm(cfg Config, alarm func(string, awscloudwatch.Metric, *awscloudwatch.CreateAlarmOptions) awscloudwatch.Alarm) {
	if s.Denylist == nil {
		return
	}
	var metric awscloudwatch.Metric
	if cfg.MetricsNamespace != "" && s.ECS == nil {
		metric = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(cfg.MetricsNamespace), MetricName: jsii.String(DenylistReloadFailuresMetric),
			Period: alarmPeriod, Statistic: jsii.String("Sum"),
		})
	} else {
		namespace := cfg.MetricsNamespace
		if namespace == "" {
			namespace = DenylistMetricNamespace
		}
		filter := awslogs.NewMetricFilter(s.Stack, jsii.String("DenylistReloadFailuresFilter"), &awslogs.MetricFilterProps{
			LogGroup:        s.Denylist.logGroup,
			FilterPattern:   awslogs.FilterPattern_AllTerms(jsii.String(DenylistReloadFailedLog)),
			MetricNamespace: jsii.String(namespace),
			MetricName:      jsii.String(DenylistReloadFailuresMetric),
			MetricValue:     jsii.String("1"),
		})
		metric = filter.Metric(&awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String("Sum")})
	}
	alarm("DenylistReloadFailuresAlarm", metric, &awscloudwatch.CreateAlarmOptions{
		AlarmDescription: jsii.String("A denylist reload failed in 5 minutes (a list could not be read or parsed): the last good version stays in force, so the latest takedown or unblock is not"),
		Threshold:        jsii.Number(1), EvaluationPeriods: jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
	})
}

// denylistOutputs are what `hash-stream deny` needs (with DistributionId).
func (s *GatewayStack) denylistOutputs(out func(id, value, desc string)) {
	if s.Denylist == nil {
		return
	}
	out("DenylistLocation", *s.Denylist.Location(), "Takedown lists (IPIP-383 *.deny): HASH_STREAM_DENYLIST of hash-stream deny")
	out("DenylistKvsArn", *s.Denylist.KVS.KeyValueStoreArn(), "Edge denylist (CloudFront KeyValueStore): HASH_STREAM_DENYLIST_KVS_ARN of hash-stream deny")
}
