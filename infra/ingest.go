package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Async invocation of the indexer (ingest=true).
const (
	// IndexerRetryAttempts is how many times Lambda retries an S3 event the
	// indexer failed on (it fails only on errors a retry can fix, such as
	// S3 errors) before sending it to the failure queue.
	IndexerRetryAttempts = 2
	// IndexerMaxEventAgeHours is how long Lambda keeps an event it could
	// not yet run, throttled at indexerConcurrency or the account's
	// concurrency, before giving up on it (to the failure queue): the
	// maximum, so a large drop of CARs waits rather than fails.
	IndexerMaxEventAgeHours = 6
	// IngestFailureRetentionDays is how long the failure queue keeps an
	// event: SQS's maximum.
	IngestFailureRetentionDays = 14
)

// notificationsHandlerID is the construct id CDK gives the one Lambda per
// stack behind every Custom::S3BucketNotifications resource.
const notificationsHandlerID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"

// Ingest is the indexer part of the stack (ingest=true): the function that
// S3 invokes for each object created under the ingest prefix, and the
// queue that receives the events it failed on.
type Ingest struct {
	Function     awslambda.Function
	Role         awsiam.Role
	LogGroup     awslogs.LogGroup
	FailureQueue awssqs.Queue
	// FailureAlarm fires when the failure queue holds an event; ErrorsAlarm
	// (alarms=true) on any failed invocation, retries included.
	FailureAlarm awscloudwatch.Alarm
	ErrorsAlarm  awscloudwatch.Alarm
}

func (s *GatewayStack) ingest(cfg Config, removal awscdk.RemovalPolicy) *Ingest {
	stack := s.Stack
	in := &Ingest{}
	in.LogGroup = awslogs.NewLogGroup(stack, jsii.String("IndexerLogGroup"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: removal,
	})
	in.Role = awsiam.NewRole(stack, jsii.String("IndexerRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Hash Stream indexer: read and remove ingested CARs, write packs and index records, write its own logs"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"IndexerAccess": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: s.indexerStatements(cfg, in.LogGroup),
			}),
		},
	})
	wildcards := s.objectWildcards(cfg, cfg.IngestPrefix, cfg.RejectedPrefix)
	suppressIAM5(in.Role, "Objects under <bucket>/<prefix>* only (ingest, rejected, pack and index prefixes): "+
		"ingested CAR names and the pack and index keys (content hashes) are known only at run time.", wildcards)

	in.FailureQueue = awssqs.NewQueue(stack, jsii.String("IngestFailureQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(IngestFailureRetentionDays)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(in.FailureQueue, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is itself the dead-letter queue (on-failure destination) of the indexer's asynchronous invocations; nothing consumes it to fail again."),
	}}, jsii.Bool(true))

	in.Function = awslambda.NewFunction(stack, jsii.String("IndexerFunction"), &awslambda.FunctionProps{
		Description:  jsii.String("Hash Stream indexer: CARs created under the ingest prefix become packs and index records"),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: lambdaArchitecture(cfg),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(cfg.IndexerLambdaDir), nil),
		MemorySize:   jsii.Number(float64(cfg.IndexerMemoryMB)),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(float64(cfg.IndexerTimeoutSeconds))),
		Role:         in.Role,
		LogGroup:     in.LogGroup,
		Environment:  indexerEnv(cfg, s.IndexBucket.BucketName(), s.PackBucket.BucketName()),
		// Each concurrent execution streams one CAR and writes its pack and
		// index records: the cap bounds the request rate on S3.
		ReservedConcurrentExecutions: indexerConcurrency(cfg),
		RetryAttempts:                jsii.Number(IndexerRetryAttempts),
		MaxEventAge:                  awscdk.Duration_Hours(jsii.Number(IndexerMaxEventAgeHours)),
		// An on-failure destination rather than the function's dead-letter
		// queue: its record holds the S3 event and also the error and why
		// Lambda gave up (retries exhausted, event too old).
		OnFailure: awslambdadestinations.NewSqsDestination(in.FailureQueue),
	})

	// Every object created under the ingest prefix, whatever its name
	// (no suffix filter): the indexer rejects what is not a CAR.
	s.PackBucket.AddEventNotification(awss3.EventType_OBJECT_CREATED,
		awss3notifications.NewLambdaDestination(in.Function),
		&awss3.NotificationKeyFilter{Prefix: jsii.String(cfg.IngestPrefix)})
	if h := stack.Node().TryFindChild(jsii.String(notificationsHandlerID)); h != nil {
		cdknag.NagSuppressions_AddResourceSuppressions(h, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM4"),
			Reason: jsii.String("CDK's own handler of Custom::S3BucketNotifications attaches AWSLambdaBasicExecutionRole to its role (aws-s3 NotificationsResourceHandler); " +
				"it writes only its own logs, at deploy time."),
			AppliesTo: &[]interface{}{&cdknag.RegexAppliesTo{
				Regex: jsii.String(`/^Policy::arn:(<AWS::Partition>|aws(-[a-z]+)*):iam::aws:policy\/service-role\/AWSLambdaBasicExecutionRole$/`),
			}},
		}}, jsii.Bool(true))
	}

	s.ingestAlarms(cfg, in)
	return in
}

// ingestAlarms: the failure queue's alarm exists whenever ingest=true, even
// with alarms=false, since an event in it is a CAR left unindexed, and SQS
// drops it after 14 days; the errors alarm comes with alarms=true. Both
// notify the alarm topic when there is one (alarmEmail).
func (s *GatewayStack) ingestAlarms(cfg Config, in *Ingest) {
	var action awscloudwatch.IAlarmAction
	if s.AlarmTopic != nil {
		action = awscloudwatchactions.NewSnsAction(s.AlarmTopic)
	}
	alarm := func(id string, metric awscloudwatch.Metric, desc string, threshold float64, op awscloudwatch.ComparisonOperator) awscloudwatch.Alarm {
		a := metric.CreateAlarm(s.Stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(desc),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: op,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if action != nil {
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
		s.Alarms = append(s.Alarms, a)
		return a
	}
	in.FailureAlarm = alarm("IngestFailuresAlarm",
		in.FailureQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String("Maximum")}),
		"Ingest failure queue holds S3 events the indexer failed on after its retries: those CARs are still under the ingest prefix, not indexed",
		0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
	if cfg.Alarms {
		in.ErrorsAlarm = alarm("IndexerErrorsAlarm",
			in.Function.MetricErrors(&awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String("Sum")}),
			"Indexer invocations failed in 5 minutes (S3 errors, timeouts, crashes; each is retried, then sent to the failure queue; rejected CARs are not errors)",
			1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	}
}

// indexerStatements is the indexer's whole policy, what the function does
// on S3 and nothing else.
func (s *GatewayStack) indexerStatements(cfg Config, logGroup awslogs.LogGroup) *[]awsiam.PolicyStatement {
	pack := func(prefix string) string { return *s.PackBucket.ArnForObjects(jsii.String(prefix + "*")) }
	stmts := []awsiam.PolicyStatement{
		allow("ReadAndRemoveIngestedCars", []string{"s3:GetObject", "s3:DeleteObject"}, pack(cfg.IngestPrefix)),
		// Multipart: a rejected CAR above 5 GB is moved in parts.
		allow("MoveRejectedCars", []string{"s3:PutObject", "s3:AbortMultipartUpload"}, pack(cfg.RejectedPrefix)),
		// GetObject: the HEAD that skips a pack already stored. Multipart:
		// a CAR above 5 GB is copied in parts.
		allow("WritePacks", []string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}, pack(cfg.PackPrefix)),
		// GetObject and ListBucket: index records already written (a
		// redelivered event) are found and skipped.
		allow("WriteIndex", []string{"s3:GetObject", "s3:PutObject"}, *s.IndexBucket.ArnForObjects(jsii.String(cfg.IndexPrefix + "*"))),
		s.listIndex(cfg),
		s.listPacks(),
	}
	stmts = append(stmts, kmsStatements(cfg)...)
	stmts = append(stmts, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	return &stmts
}

// writerPolicy is the managed policy for writers with the CLI (pack write,
// pack import, store copy --to s3, and with ingest=true dropping CARs
// under the ingest prefix). It exists whatever ingest is: the CLI writes
// the stores either way. Nothing is deleted through it.
func (s *GatewayStack) writerPolicy(cfg Config) awsiam.ManagedPolicy {
	stmts := []awsiam.PolicyStatement{
		// GetObject: the writers read back what exists (index files to
		// merge, packs to skip); AbortMultipartUpload: large packs go up in
		// parts, and a failed upload is aborted.
		allow("WriteIndexAndPacks", []string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"},
			*s.IndexBucket.ArnForObjects(jsii.String(cfg.IndexPrefix + "*")),
			*s.PackBucket.ArnForObjects(jsii.String(cfg.PackPrefix + "*"))),
		s.listIndex(cfg),
		s.listPacks(),
	}
	if cfg.Ingest {
		stmts = append(stmts, allow("DropCarsForIngest", []string{"s3:PutObject", "s3:AbortMultipartUpload"},
			*s.PackBucket.ArnForObjects(jsii.String(cfg.IngestPrefix + "*"))))
	}
	stmts = append(stmts, kmsStatements(cfg)...)
	p := awsiam.NewManagedPolicy(s.Stack, jsii.String("WriterPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Hash Stream writers (CLI pack write/import, store copy --to s3, CARs dropped for ingest): write the index and pack stores"),
		Statements:  &stmts,
	})
	var ingest []string
	if cfg.Ingest {
		ingest = []string{cfg.IngestPrefix}
	}
	suppressIAM5(p, "Objects under <bucket>/<prefix>* only (index, pack and, with ingest, ingest prefixes): "+
		"pack and index keys are content hashes, CAR names the writer's.", s.objectWildcards(cfg, ingest...))
	return p
}

func allow(sid string, actions []string, resources ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resources...),
	})
}

// listIndex allows listing the index store (its prefix only, when set).
func (s *GatewayStack) listIndex(cfg Config) awsiam.PolicyStatement {
	list := &awsiam.PolicyStatementProps{
		Sid:       jsii.String("ListIndex"),
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: jsii.Strings(*s.IndexBucket.BucketArn()),
	}
	if cfg.IndexPrefix != "" {
		list.Conditions = &map[string]interface{}{
			"StringLike": map[string]interface{}{"s3:prefix": cfg.IndexPrefix + "*"},
		}
	}
	return awsiam.NewPolicyStatement(list)
}

// listPacks allows listing the pack bucket, without a prefix condition: S3
// answers a GET or HEAD of a missing key with 404 only to a principal
// allowed s3:ListBucket on the bucket, and with 403 otherwise, so "is this
// pack stored yet" (and "was this ingest object already indexed and
// removed") could not be told from a refusal.
func (s *GatewayStack) listPacks() awsiam.PolicyStatement {
	return allow("ListPacks", []string{"s3:ListBucket"}, *s.PackBucket.BucketArn())
}

// kmsStatements: with kmsKeyArn (imported SSE-KMS buckets), reading an
// object needs kms:Decrypt and writing one kms:GenerateDataKey (and
// kms:Decrypt for a multipart upload), on that key only, through S3 only.
func kmsStatements(cfg Config) []awsiam.PolicyStatement {
	if cfg.KMSKeyArn == "" {
		return nil
	}
	return []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("EncryptAndDecryptStoreObjects"),
		Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources: jsii.Strings(cfg.KMSKeyArn),
		Conditions: &map[string]interface{}{
			"StringLike": map[string]interface{}{"kms:ViaService": "s3.*.amazonaws.com"},
		},
	})}
}

// objectWildcards are the "<bucket>/<prefix>*" resources of the index and
// pack stores and of the given other prefixes of the pack bucket, as
// cdk-nag renders them.
func (s *GatewayStack) objectWildcards(cfg Config, packBucketPrefixes ...string) []string {
	out := []string{
		objectWildcardRegex("IndexBucket", cfg.IndexBucketName, cfg.IndexPrefix),
		objectWildcardRegex("PackBucket", cfg.PackBucketName, cfg.PackPrefix),
	}
	for _, p := range packBucketPrefixes {
		out = append(out, objectWildcardRegex("PackBucket", cfg.PackBucketName, p))
	}
	return out
}

// suppressIAM5 accepts exactly the given wildcard resources on c.
func suppressIAM5(c constructs.IConstruct, reason string, regexes []string) {
	var applies []interface{}
	for _, r := range regexes {
		applies = append(applies, &cdknag.RegexAppliesTo{Regex: jsii.String(r)})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String(reason),
		AppliesTo: &applies,
	}}, jsii.Bool(true))
}

func indexerConcurrency(cfg Config) *float64 {
	if cfg.IndexerConcurrency <= 0 {
		return nil
	}
	return jsii.Number(float64(cfg.IndexerConcurrency))
}
