package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Environment variables the gateway function reads (see functions/gateway;
// the bucket and prefix names are declared in lib/store/s3, which infra
// does not import). functions/gateway's TestInfraEnvIsWhatTheFunctionReads
// checks that every one functionEnv sets is one the function reads.
const (
	EnvIndexBucket = "HASH_STREAM_S3_INDEX_BUCKET"
	EnvIndexPrefix = "HASH_STREAM_S3_INDEX_PREFIX"
	EnvPackBucket  = "HASH_STREAM_S3_PACK_BUCKET"
	EnvPackPrefix  = "HASH_STREAM_S3_PACK_PREFIX"
	EnvLogLevel    = "HASH_STREAM_LOG_LEVEL"
	EnvEMF         = "HASH_STREAM_EMF_NAMESPACE"
	// EnvDenylist is where the takedown lists are (denylist.go).
	EnvDenylist = "HASH_STREAM_DENYLIST"
)

// Environment variables the indexer function (functions/indexer, with
// ingest=true) reads besides the store ones above; indexerEnv sets them.
const (
	EnvIngestPrefix   = "HASH_STREAM_INGEST_PREFIX"
	EnvRejectedPrefix = "HASH_STREAM_REJECTED_PREFIX"
	EnvIndexWriter    = "HASH_STREAM_INDEX_WRITER"
)

// AbortIncompleteMultipartUploadDays is when the created buckets' lifecycle
// rule aborts a multipart upload that was never completed.
const AbortIncompleteMultipartUploadDays = 7

// CacheKeyQueryStrings are the query parameters that change a trustless
// gateway response, so they are part of the CloudFront cache key (and are
// the only ones forwarded to the function).
//
// The cache-key function (cachekey.js) leaves only these, in canonical
// form: car-version and car-order are folded away (every valid value is
// answered as version=1, order=dfs) and download is not read by the
// gateway.
var CacheKeyQueryStrings = []string{"format", "dag-scope", "entity-bytes", "car-dups", "filename"}

// CacheKeyHeaders are the request headers in the cache key: Accept picks raw
// or CAR; the cache-key function reduces it to one canonical value of each
// (or removes it).
var CacheKeyHeaders = []string{"Accept"}

// GatewayStackProps configures NewGatewayStack.
type GatewayStackProps struct {
	awscdk.StackProps
	Config Config
}

// GatewayStack is the deployed gateway: buckets, function, URL, distribution.
// Function and FunctionURL are made with compute=lambda (the default), ECS
// with compute=ecs.
type GatewayStack struct {
	awscdk.Stack
	IndexBucket  awss3.IBucket
	PackBucket   awss3.IBucket
	Function     awslambda.Function
	FunctionURL  awslambda.FunctionUrl
	ECS          *ECSService
	Distribution awscloudfront.Distribution
	// Alarms and Dashboard are made with alarms=true; AlarmTopic with
	// alarmEmail.
	Alarms     []awscloudwatch.Alarm
	AlarmTopic awssns.ITopic
	Dashboard  awscloudwatch.Dashboard
	// WriterPolicy is what a writer with the CLI needs (always made).
	WriterPolicy awsiam.ManagedPolicy
	// Heal invalidates the paths of cut responses (heal.go).
	Heal *Heal
	// Ingest is made with ingest=true.
	Ingest *Ingest
	// Denylist is the takedown lists and the edge denylist (nil with
	// denylist=false).
	Denylist *Denylist
}

// NewGatewayStack defines the whole stack. It returns an error, before any
// construct is made, for a configuration it cannot deploy.
func NewGatewayStack(scope constructs.Construct, id string, props *GatewayStackProps) (*GatewayStack, error) {
	cfg := props.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Compute == ComputeECS {
		if err := checkECS(cfg, props.Env); err != nil {
			return nil, err
		}
	} else if err := checkLambdaCode(cfg); err != nil {
		return nil, err
	}
	if err := checkIndexerCode(cfg); err != nil {
		return nil, err
	}
	if err := checkInvalidatorCode(cfg); err != nil {
		return nil, err
	}
	if err := checkCertificateRegion(cfg, props.Env); err != nil {
		return nil, err
	}
	if err := checkWAFRegion(cfg, props.Env); err != nil {
		return nil, err
	}
	if err := checkRegion(cfg, props.Env); err != nil {
		return nil, err
	}

	sprops := props.StackProps
	if sprops.Description == nil {
		sprops.Description = jsii.String("Hash Stream trustless IPFS gateway: S3 index and pack buckets, a streaming Go Lambda and CloudFront")
	}
	stack := awscdk.NewStack(scope, &id, &sprops)
	s := &GatewayStack{Stack: stack}

	removal := awscdk.RemovalPolicy_RETAIN
	if cfg.RemovalPolicy == "destroy" {
		removal = awscdk.RemovalPolicy_DESTROY
	}

	// One bucket receives the S3 server access logs of the buckets made here
	// and CloudFront's standard logs. Log delivery itself is free; only the
	// storage costs, bounded by the expiration rule.
	var logBucket awss3.Bucket
	if cfg.AccessLogs {
		logBucket = awss3.NewBucket(stack, jsii.String("AccessLogBucket"), &awss3.BucketProps{
			BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
			EnforceSSL:        jsii.Bool(true),
			Encryption:        awss3.BucketEncryption_S3_MANAGED,
			// CloudFront standard logging (legacy, to S3) writes through an ACL
			// grant to its log delivery account, so ACLs must stay enabled.
			// Standard logging v2 (CloudWatch vended logs, no ACLs) would need
			// its delivery source made in us-east-1, where CloudFront lives:
			// in a stack of any other region that is a second stack and
			// cross-region references, for logs legacy delivers the same.
			// Only CloudFront's log delivery account is granted; public access
			// stays blocked.
			ObjectOwnership: awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
			RemovalPolicy:   removal,
			LifecycleRules: &[]*awss3.LifecycleRule{{
				Id:         jsii.String("expire-access-logs"),
				Expiration: awscdk.Duration_Days(jsii.Number(float64(cfg.AccessLogExpirationDays))),
			}},
		})
		cdknag.NagSuppressions_AddResourceSuppressions(logBucket, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-S1"),
			Reason: jsii.String("This is the access log bucket itself; logging its own access into itself would loop, and another log bucket would need one too."),
		}}, jsii.Bool(true))
	}

	s.IndexBucket = contentBucket(stack, "IndexBucket", cfg.IndexBucketName, logBucket, "s3/index/", removal)
	s.PackBucket = contentBucket(stack, "PackBucket", cfg.PackBucketName, logBucket, "s3/pack/", removal)

	logGroup := awslogs.NewLogGroup(stack, jsii.String("GatewayLogGroup"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: removal,
	})
	// Before the gateway's roles: they read the takedown lists.
	s.Denylist = s.denylist(cfg, logBucket, logGroup, removal)

	if cfg.Compute == ComputeECS {
		s.ECS = s.ecsService(cfg, logGroup, logBucket)
	} else {
		role := awsiam.NewRole(stack, jsii.String("GatewayRole"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("Hash Stream gateway: read the index and pack objects, write its own logs"),
			// An inline policy rather than the AWSLambdaBasicExecutionRole managed
			// policy (which allows logs:CreateLogGroup and writing to any log
			// group): the function writes only to its own log group.
			InlinePolicies: &map[string]awsiam.PolicyDocument{
				"GatewayAccess": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
					Statements: s.gatewayStatements(cfg, logGroup),
				}),
			},
		})
		s.suppressObjectWildcards(role, cfg)

		s.Function = awslambda.NewFunction(stack, jsii.String("GatewayFunction"), &awslambda.FunctionProps{
			Description:  jsii.String("Hash Stream trustless gateway (Function URL, response streaming)"),
			Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture: lambdaArchitecture(cfg), // arm64 unless architecture=x86_64
			Handler:      jsii.String("bootstrap"),
			// A folder already built by `make build-lambda`: no Docker bundling,
			// so synth runs offline and in tests.
			Code:        awslambda.Code_FromAsset(jsii.String(cfg.LambdaDir), nil),
			MemorySize:  jsii.Number(float64(cfg.MemoryMB)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(float64(cfg.TimeoutSeconds))),
			Role:        role,
			LogGroup:    logGroup,
			Environment: functionEnv(cfg, s.IndexBucket.BucketName(), s.PackBucket.BucketName(), s.denylistLocation()),
			// A streamed response is not stopped when the client goes away, so
			// concurrency, not request count, is what bounds the bill and the
			// load on S3: past it, invocations are throttled (CloudFront answers
			// 5xx) instead.
			ReservedConcurrentExecutions: reservedConcurrency(cfg),
		})

		// AWS_IAM: only signed requests reach the function, and the only signer
		// allowed to invoke it is this stack's distribution (through OAC).
		s.FunctionURL = s.Function.AddFunctionUrl(&awslambda.FunctionUrlOptions{
			AuthType:   awslambda.FunctionUrlAuthType_AWS_IAM,
			InvokeMode: awslambda.InvokeMode_RESPONSE_STREAM,
		})
	}

	s.Distribution = s.distribution(cfg, logBucket)
	if cfg.Alarms {
		s.monitoring(cfg)
	}
	// After monitoring: the ingest alarms notify its topic.
	if cfg.Ingest {
		s.Ingest = s.ingest(cfg, removal)
	}
	// After the distribution (the invalidator names it) and monitoring
	// (its alarms notify the topic and join the dashboard).
	s.Heal = s.heal(cfg, logGroup, removal)
	s.WriterPolicy = s.writerPolicy(cfg)
	s.denylistDepends()
	for _, w := range configWarnings(cfg) {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String(w.id), jsii.String(w.message), nil)
	}

	out := func(id, value, desc string) {
		awscdk.NewCfnOutput(stack, &id, &awscdk.CfnOutputProps{Value: &value, Description: &desc})
	}
	out("DistributionUrl", "https://"+*s.Distribution.DistributionDomainName(), "Gateway URL (CloudFront): GET /ipfs/<cid>")
	out("DistributionId", *s.Distribution.DistributionId(), "CloudFront distribution ID")
	if cfg.DomainName != "" {
		out("CustomDomainUrl", "https://"+cfg.DomainName, "Gateway URL on the custom domain")
	}
	out("IndexBucketName", *s.IndexBucket.BucketName(), "Index bucket: "+EnvIndexBucket)
	out("PackBucketName", *s.PackBucket.BucketName(), "Pack bucket: "+EnvPackBucket)
	if cfg.IndexPrefix != "" {
		out("IndexPrefix", cfg.IndexPrefix, "Index key prefix: "+EnvIndexPrefix)
	}
	if cfg.PackPrefix != "" {
		out("PackPrefix", cfg.PackPrefix, "Pack key prefix: "+EnvPackPrefix)
	}
	out("Region", *stack.Region(), "Region of the buckets and function: AWS_REGION")
	if s.ECS != nil {
		out("ClusterName", *s.ECS.Cluster.ClusterName(), "ECS cluster of the gateway service")
		out("ServiceName", *s.ECS.Service.ServiceName(), "Gateway ECS service name")
		out("LoadBalancerDns", *s.ECS.LoadBalancer.LoadBalancerDnsName(), "Internal load balancer (reachable only inside the VPC: use CloudFront)")
	} else {
		out("FunctionName", *s.Function.FunctionName(), "Gateway Lambda function name")
		out("FunctionUrl", *s.FunctionURL.Url(), "Function URL (AWS_IAM: callable only through CloudFront or with SigV4)")
	}
	s.denylistOutputs(out)
	out("WriterPolicyArn", *s.WriterPolicy.ManagedPolicyArn(), "Managed policy for CLI writers (pack write/import, store copy --to s3): attach it to your user or role")
	if s.Ingest != nil {
		out("IngestLocation", "s3://"+*s.PackBucket.BucketName()+"/"+cfg.IngestPrefix, "Drop CAR files here to have them indexed (aws s3 cp x.car <this>x.car)")
		out("RejectedLocation", "s3://"+*s.PackBucket.BucketName()+"/"+cfg.RejectedPrefix, "Where the indexer moves CARs that fail verification")
		out("IndexerFunctionName", *s.Ingest.Function.FunctionName(), "Indexer Lambda function name")
		out("IndexerLogGroupName", *s.Ingest.LogGroup.LogGroupName(), "Indexer log group: aws logs tail <this> --follow")
		out("IngestFailureQueueUrl", *s.Ingest.FailureQueue.QueueUrl(), "SQS queue of S3 events the indexer failed on after its retries")
	}

	return s, nil
}

// contentBucket makes a private bucket, or imports an existing one by name.
func contentBucket(stack awscdk.Stack, id, name string, logBucket awss3.IBucket, logPrefix string, removal awscdk.RemovalPolicy) awss3.IBucket {
	if name != "" {
		// An existing store (for instance one written by the JavaScript CLI):
		// the stack only reads it and never changes its settings.
		return awss3.Bucket_FromBucketName(stack, jsii.String(id), jsii.String(name))
	}
	props := &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     removal,
		// Writers (this CLI, the JavaScript one) upload large packs in parts;
		// the parts of an upload that never completes are billed as storage
		// until aborted.
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("abort-incomplete-multipart-uploads"),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(AbortIncompleteMultipartUploadDays)),
		}},
	}
	if logBucket != nil {
		props.ServerAccessLogsBucket = logBucket
		props.ServerAccessLogsPrefix = jsii.String(logPrefix)
	}
	b := awss3.NewBucket(stack, jsii.String(id), props)
	if logBucket == nil {
		cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-S1"),
			Reason: jsii.String("Server access logs are off by context (accessLogs=false) to keep a log bucket out of the account."),
		}}, jsii.Bool(true))
	}
	return b
}

// gatewayStatements is the function's whole policy. Explicit statements
// rather than IBucket.grantRead, which also allows s3:GetObject* (versions,
// ACLs, tags), s3:GetBucket* and s3:List* (versions, multipart uploads) on
// the whole bucket, none of which the gateway uses.
func (s *GatewayStack) gatewayStatements(cfg Config, logGroup awslogs.LogGroup) *[]awsiam.PolicyStatement {
	stmts := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("ReadIndexAndPackObjects"),
			Actions: jsii.Strings("s3:GetObject"),
			Resources: jsii.Strings(
				*s.IndexBucket.ArnForObjects(jsii.String(cfg.IndexPrefix + "*")),
				*s.PackBucket.ArnForObjects(jsii.String(cfg.PackPrefix + "*")),
			),
		}),
	}
	// The index reader lists `<prefix>k(mh)/k(mh)/` to find a multihash's
	// index files. ListBucket on the pack bucket is not granted: packs are
	// only read by key from index records.
	stmts = append(stmts, s.listIndex(cfg))
	stmts = append(stmts, s.denylistStatements()...)
	if cfg.KMSKeyArn != "" {
		// Imported buckets encrypted with SSE-KMS: S3 decrypts objects with
		// the reader's own kms:Decrypt permission. Only that key, only
		// through S3.
		stmts = append(stmts, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("DecryptStoreObjects"),
			Actions:   jsii.Strings("kms:Decrypt"),
			Resources: jsii.Strings(cfg.KMSKeyArn),
			Conditions: &map[string]interface{}{
				"StringLike": map[string]interface{}{"kms:ViaService": "s3.*.amazonaws.com"},
			},
		}))
	}
	if logGroup == nil {
		// ECS tasks: their logs are written by the task's execution role.
		return &stmts
	}
	// The log group's Arn attribute already ends in ":*" (its log streams).
	stmts = append(stmts, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	return &stmts
}

// suppressObjectWildcards accepts exactly the two object wildcards of the
// policy: object keys are content hashes not known at deploy time, so reads
// are scoped to "<bucket>/<prefix>*" and nothing wider.
func (s *GatewayStack) suppressObjectWildcards(role awsiam.Role, cfg Config) {
	applies := []interface{}{
		&cdknag.RegexAppliesTo{Regex: jsii.String(objectWildcardRegex("IndexBucket", cfg.IndexBucketName, cfg.IndexPrefix))},
		&cdknag.RegexAppliesTo{Regex: jsii.String(objectWildcardRegex("PackBucket", cfg.PackBucketName, cfg.PackPrefix))},
	}
	applies = append(applies, s.denylistWildcards(cfg)...)
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("s3:GetObject on <bucket>/<prefix>* of the index and pack buckets only: object keys are content hashes written after deploy."),
		AppliesTo: &applies,
	}}, jsii.Bool(true))
}

// objectWildcardRegex matches cdk-nag's rendering of "<bucket ARN>/<prefix>*"
// for a bucket made by the stack (construct id) or imported by name. An
// imported bucket's ARN names the partition as {"Ref": "AWS::Partition"}
// (rendered "<AWS::Partition>") in an environment-agnostic stack, and as a
// literal ("aws", "aws-cn", ...) once the stack has a region, which is what
// the CDK CLI gives it (it falls back to us-east-1 without a configured one).
func objectWildcardRegex(id, importedName, prefix string) string {
	var bucket string
	if importedName != "" {
		bucket = `arn:(<AWS::Partition>|aws(-[a-z]+)*):s3:::` + regexp.QuoteMeta(importedName)
	} else {
		bucket = "<" + id + `[0-9A-F]{8}\.Arn>`
	}
	return "/^Resource::" + bucket + "/" + regexp.QuoteMeta(prefix) + `\*$/`
}

func (s *GatewayStack) distribution(cfg Config, logBucket awss3.IBucket) awscloudfront.Distribution {
	stack := s.Stack

	// Responses for a CID never change and the function says so
	// (Cache-Control: public, max-age=29030400, immutable): with MinTtl 0 the
	// origin's Cache-Control rules; DefaultTtl covers responses without one;
	// MaxTtl is above the origin's max-age so it is honoured in full.
	cachePolicy := awscloudfront.NewCachePolicy(stack, jsii.String("GatewayCachePolicy"), &awscloudfront.CachePolicyProps{
		// Account-global. CDK's own name (the construct path cut at 110
		// characters, then the region) is the same for two long stack names
		// that differ only past the cut.
		CachePolicyName:     accountGlobalName(stack, "Cache", 128),
		Comment:             jsii.String("Hash Stream gateway: path, trustless query parameters and Accept, normalised by the cache-key function"),
		MinTtl:              awscdk.Duration_Seconds(jsii.Number(0)),
		DefaultTtl:          awscdk.Duration_Days(jsii.Number(1)),
		MaxTtl:              awscdk.Duration_Days(jsii.Number(365)),
		HeaderBehavior:      awscloudfront.CacheHeaderBehavior_AllowList(*jsii.Strings(CacheKeyHeaders...)...),
		QueryStringBehavior: awscloudfront.CacheQueryStringBehavior_AllowList(*jsii.Strings(CacheKeyQueryStrings...)...),
		CookieBehavior:      awscloudfront.CacheCookieBehavior_None(),
		// Blocks and CARs are hashed or already compact: no compressed variants.
		EnableAcceptEncodingGzip:   jsii.Bool(false),
		EnableAcceptEncodingBrotli: jsii.Bool(false),
	})

	// Trustless clients run in browsers too (@helia/verified-fetch): allow any
	// origin to GET and read the gateway headers. The origin's own CORS
	// headers win if it sends them.
	headersProps := &awscloudfront.ResponseHeadersPolicyProps{
		// Account-global: see accountGlobalName.
		ResponseHeadersPolicyName: accountGlobalName(stack, "ResponseHeaders", 128),
		Comment:                   jsii.String("Hash Stream gateway: CORS for GET/HEAD/OPTIONS, nosniff, HSTS, Server-Timing"),
		CorsBehavior: &awscloudfront.ResponseHeadersCorsBehavior{
			AccessControlAllowCredentials: jsii.Bool(false),
			AccessControlAllowHeaders:     jsii.Strings("*"),
			AccessControlAllowMethods:     jsii.Strings("GET", "HEAD", "OPTIONS"),
			AccessControlAllowOrigins:     jsii.Strings("*"),
			AccessControlExposeHeaders: jsii.Strings(
				"Content-Length", "Content-Range", "Content-Disposition", "Etag",
				"X-Ipfs-Path", "X-Ipfs-Roots", "X-Content-Type-Options",
			),
			AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(1)),
			OriginOverride:      jsii.Bool(false),
		},
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentTypeOptions: &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
				AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(365)),
				IncludeSubdomains:   jsii.Bool(false),
				Override:            jsii.Bool(true),
			},
		},
	}
	if cfg.ServerTimingSamplingRate > 0 {
		// CloudFront's own Server-Timing header on this share of responses:
		// cdn-cache-hit/miss, cdn-upstream-fbl (origin first byte), the edge
		// location. Free; viewers and `hash-stream smoke` read it.
		headersProps.ServerTimingSamplingRate = jsii.Number(cfg.ServerTimingSamplingRate)
	}
	headers := awscloudfront.NewResponseHeadersPolicy(stack, jsii.String("GatewayResponseHeaders"), headersProps)

	// The viewer's address (and port) for the gateway's request log, in a
	// header CloudFront adds: CloudFront-Viewer-Address. Only that header,
	// not in the cache key; the viewer's Host is not forwarded (a Function
	// URL must see its own host: CloudFront Developer Guide, "Use managed
	// origin request policies", AllViewerExceptHostHeader).
	viewerAddress := awscloudfront.NewOriginRequestPolicy(stack, jsii.String("ViewerAddressPolicy"), &awscloudfront.OriginRequestPolicyProps{
		OriginRequestPolicyName: accountGlobalName(stack, "ViewerAddress", 128),
		Comment:                 jsii.String("Hash Stream gateway: forward CloudFront-Viewer-Address only"),
		HeaderBehavior:          awscloudfront.OriginRequestHeaderBehavior_AllowList(jsii.String(ViewerAddressHeader)),
		QueryStringBehavior:     awscloudfront.OriginRequestQueryStringBehavior_None(),
		CookieBehavior:          awscloudfront.OriginRequestCookieBehavior_None(),
	})

	var origin awscloudfront.IOrigin
	if s.ECS != nil {
		origin = s.ECS.Origin
	} else {
		oac := awscloudfront.NewFunctionUrlOriginAccessControl(stack, jsii.String("FunctionUrlOriginAccessControl"), &awscloudfront.FunctionUrlOriginAccessControlProps{
			OriginAccessControlName: accountGlobalName(stack, "FunctionUrl", 64),
			Description:             jsii.String("Hash Stream gateway: CloudFront signs every request to the Function URL (SigV4)"),
			Signing:                 awscloudfront.Signing_SIGV4_ALWAYS(),
		})
		origin = awscloudfrontorigins.FunctionUrlOrigin_WithOriginAccessControl(s.FunctionURL, &awscloudfrontorigins.FunctionUrlOriginWithOACProps{
			OriginAccessControl: oac,
			// Time to the first byte and then between bytes, not for the whole
			// response: a long streamed CAR keeps the connection busy.
			ReadTimeout:      awscdk.Duration_Seconds(jsii.Number(float64(cfg.OriginReadTimeoutSeconds))),
			KeepaliveTimeout: awscdk.Duration_Seconds(jsii.Number(float64(cfg.OriginKeepaliveTimeoutSeconds))),
			// Empty: no Origin Shield.
			OriginShieldRegion: originShieldRegion(cfg),
		})
	}

	props := &awscloudfront.DistributionProps{
		Comment: jsii.String("Hash Stream trustless gateway"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin: origin,
			// OPTIONS: CORS preflights reach the function, which answers
			// them the same way for every path, so they are cached too.
			AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD_OPTIONS(),
			CachedMethods:         awscloudfront.CachedMethods_CACHE_GET_HEAD_OPTIONS(),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:           cachePolicy,
			OriginRequestPolicy:   viewerAddress,
			ResponseHeadersPolicy: headers,
			Compress:              jsii.Bool(false),
			FunctionAssociations: &[]*awscloudfront.FunctionAssociation{{
				EventType: awscloudfront.FunctionEventType_VIEWER_REQUEST,
				Function:  s.cacheKeyFunction(s.denylistKVS()),
			}},
		},
		HttpVersion: awscloudfront.HttpVersion_HTTP2_AND_3,
		EnableIpv6:  jsii.Bool(true),
		PriceClass:  priceClass(cfg.PriceClass),
	}
	if logBucket != nil {
		props.LogBucket = logBucket
		props.LogFilePrefix = jsii.String("cloudfront/")
	}
	if cfg.WebACLArn != "" {
		props.WebAclId = jsii.String(cfg.WebACLArn)
	}
	if cfg.WAF {
		props.WebAclId = s.webACL(cfg).AttrArn()
	}

	var zone awsroute53.IHostedZone
	if cfg.DomainName != "" {
		zone = hostedZone(stack, cfg)
		var cert awscertificatemanager.ICertificate
		if cfg.CertificateArn != "" {
			cert = awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(cfg.CertificateArn))
		} else {
			// Only reached in us-east-1 (checkCertificateRegion), where
			// CloudFront takes its certificates from.
			cert = awscertificatemanager.NewCertificate(stack, jsii.String("Certificate"), &awscertificatemanager.CertificateProps{
				DomainName: jsii.String(cfg.DomainName),
				Validation: awscertificatemanager.CertificateValidation_FromDns(zone),
			})
		}
		props.DomainNames = jsii.Strings(cfg.DomainName)
		props.Certificate = cert
		// Only meaningful with a certificate of our own (see CFR4 below).
		props.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2025
	}

	dist := awscloudfront.NewDistribution(stack, jsii.String("Distribution"), props)

	if zone != nil {
		target := awsroute53.RecordTarget_FromAlias(awsroute53targets.NewCloudFrontTarget(dist))
		awsroute53.NewARecord(stack, jsii.String("AliasA"), &awsroute53.ARecordProps{
			Zone: zone, RecordName: jsii.String(cfg.DomainName), Target: target,
		})
		awsroute53.NewAaaaRecord(stack, jsii.String("AliasAAAA"), &awsroute53.AaaaRecordProps{
			Zone: zone, RecordName: jsii.String(cfg.DomainName), Target: target,
		})
	}

	var supp []*cdknag.NagPackSuppression
	if logBucket == nil {
		supp = append(supp, &cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-CFR3"),
			Reason: jsii.String("CloudFront access logs are off by context (accessLogs=false) to keep a log bucket out of the account."),
		})
	}
	if cfg.DomainName == "" {
		supp = append(supp, &cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-CFR4"),
			Reason: jsii.String("Without a custom domain the distribution uses the default *.cloudfront.net certificate, whose minimum TLS version cannot be set; with domainName the stack sets TLSv1.2_2025."),
		})
	}
	supp = append(supp,
		&cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-CFR1"),
			Reason: jsii.String("A public gateway for content-addressed data: no country is excluded."),
		})
	if cfg.WebACLArn == "" && !cfg.WAF {
		supp = append(supp, &cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-CFR2"),
			Reason: jsii.String("AWS WAF costs per web ACL and request; make one with context waf=true (stack in us-east-1) or attach one with webAclArn when needed."),
		})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(dist, &supp, jsii.Bool(true))
	return dist
}

// WAFRateRuleName is the name of the web ACL's rate-based rule (and of its
// CloudWatch metric); WAFCacheBustingRuleName that of the tighter rule of
// wafCacheBustingRateLimit.
const (
	WAFRateRuleName         = "RateLimitPerIP"
	WAFCacheBustingRuleName = "RateLimitCacheBustingPerIP"
)

// CacheBustingParams are the query parameters that make a new cache entry,
// and an origin invocation, for content already cached: every distinct
// entity-bytes range or filename is its own entry (the cache-key function
// folds everything else away). The cache-busting rule counts requests
// whose query holds either name.
var CacheBustingParams = []string{"entity-bytes", "filename"}

// ViewerAddressHeader is the CloudFront header with the viewer's address
// and port the origin request policy forwards.
const ViewerAddressHeader = "CloudFront-Viewer-Address"

func originShieldRegion(cfg Config) *string {
	if cfg.OriginShieldRegion == "" {
		return nil
	}
	return jsii.String(cfg.OriginShieldRegion)
}

// webACL makes the CloudFront web ACL of waf=true: everything allowed but a
// client IP above cfg.WAFRateLimit requests in 5 minutes, which is blocked
// (403) until its rate falls back under the limit, and, with
// wafCacheBustingRateLimit, above that many cache-busting requests (entity-bytes
// or filename in the query) in 5 minutes. Cache hits count too: WAF sees
// every request before the cache.
func (s *GatewayStack) webACL(cfg Config) awswafv2.CfnWebACL {
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true),
			MetricName:               jsii.String(name),
			SampledRequestsEnabled:   jsii.Bool(true),
		}
	}
	rules := []interface{}{&awswafv2.CfnWebACL_RuleProperty{
		Name:     jsii.String(WAFRateRuleName),
		Priority: jsii.Number(0),
		Action:   &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
		Statement: &awswafv2.CfnWebACL_StatementProperty{
			RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
				AggregateKeyType:    jsii.String("IP"),
				Limit:               jsii.Number(float64(cfg.WAFRateLimit)),
				EvaluationWindowSec: jsii.Number(300),
			},
		},
		VisibilityConfig: visibility(WAFRateRuleName),
	}}
	if cfg.WAFCacheBustingRateLimit > 0 {
		// Counts, per client IP, only the requests whose query names a
		// cache-busting parameter (after URL decoding, as the gateway reads
		// it: entity%2Dbytes is entity-bytes): each distinct value misses the
		// cache and holds an origin execution, where plain block and CAR
		// requests are mostly cache hits.
		var matches []interface{}
		for _, p := range CacheBustingParams {
			matches = append(matches, &awswafv2.CfnWebACL_StatementProperty{
				ByteMatchStatement: &awswafv2.CfnWebACL_ByteMatchStatementProperty{
					FieldToMatch:         &awswafv2.CfnWebACL_FieldToMatchProperty{QueryString: map[string]interface{}{}},
					PositionalConstraint: jsii.String("CONTAINS"),
					SearchString:         jsii.String(p),
					TextTransformations: &[]interface{}{&awswafv2.CfnWebACL_TextTransformationProperty{
						Priority: jsii.Number(0), Type: jsii.String("URL_DECODE"),
					}},
				},
			})
		}
		rules = append(rules, &awswafv2.CfnWebACL_RuleProperty{
			Name:     jsii.String(WAFCacheBustingRuleName),
			Priority: jsii.Number(1),
			Action:   &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
			Statement: &awswafv2.CfnWebACL_StatementProperty{
				RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
					AggregateKeyType:    jsii.String("IP"),
					Limit:               jsii.Number(float64(cfg.WAFCacheBustingRateLimit)),
					EvaluationWindowSec: jsii.Number(300),
					ScopeDownStatement: &awswafv2.CfnWebACL_StatementProperty{
						OrStatement: &awswafv2.CfnWebACL_OrStatementProperty{Statements: &matches},
					},
				},
			},
			VisibilityConfig: visibility(WAFCacheBustingRuleName),
		})
	}
	return awswafv2.NewCfnWebACL(s.Stack, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Description:      jsii.String("Hash Stream gateway: rate limit per client IP"),
		Scope:            jsii.String("CLOUDFRONT"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("HashStreamGatewayWebAcl"),
		Rules:            &rules,
	})
}

// checkWAFRegion: a web ACL for CloudFront (scope CLOUDFRONT) can only be
// made in us-east-1. As for the certificate, the stack makes it only when it
// is deployed there; elsewhere, make the web ACL in us-east-1 and pass its
// ARN as webAclArn.
func checkWAFRegion(cfg Config, env *awscdk.Environment) error {
	if !cfg.WAF {
		return nil
	}
	if shown := notUSEast1(env); shown != "" {
		return fmt.Errorf("waf=true: a web ACL for CloudFront can only be made in us-east-1, the stack region is %s; deploy to us-east-1 or make the web ACL there and pass -c webAclArn=<its ARN>", shown)
	}
	return nil
}

// notUSEast1 returns "" when env's region is us-east-1, where CloudFront
// takes certificates and web ACLs from, and otherwise the region as an
// error names it (or that none is configured).
func notUSEast1(env *awscdk.Environment) string {
	region := ""
	if env != nil && env.Region != nil {
		region = *env.Region
	}
	switch region {
	case "us-east-1":
		return ""
	case "":
		return "unknown (no AWS region configured)"
	}
	return region
}

func hostedZone(stack awscdk.Stack, cfg Config) awsroute53.IHostedZone {
	if cfg.HostedZoneID != "" {
		// No lookup, so synth stays offline. The zone name only shapes record
		// names; the domain itself renders the same fully qualified name.
		name := cfg.HostedZoneName
		if name == "" {
			name = cfg.DomainName
		}
		return awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("HostedZone"), &awsroute53.HostedZoneAttributes{
			HostedZoneId: jsii.String(cfg.HostedZoneID),
			ZoneName:     jsii.String(name),
		})
	}
	// A lookup in the account at synth time (cached in cdk.context.json);
	// needs the stack's account and region.
	return awsroute53.HostedZone_FromLookup(stack, jsii.String("HostedZone"), &awsroute53.HostedZoneProviderProps{
		DomainName: jsii.String(cfg.HostedZoneName),
	})
}

// checkCertificateRegion: CloudFront only takes ACM certificates from
// us-east-1. Without certificateArn the stack requests the certificate
// itself, which is right only if the stack is deployed there. Copying a
// certificate across regions would take a second stack and a custom
// resource; an existing ARN is the honest way for other regions.
func checkCertificateRegion(cfg Config, env *awscdk.Environment) error {
	if cfg.DomainName == "" || cfg.CertificateArn != "" {
		return nil
	}
	if shown := notUSEast1(env); shown != "" {
		return fmt.Errorf("domainName %q: CloudFront needs an ACM certificate in us-east-1, the stack region is %s; deploy to us-east-1 or pass -c certificateArn=<ARN of a certificate in us-east-1>", cfg.DomainName, shown)
	}
	return nil
}

func checkLambdaDir(what, key, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %s/bootstrap not found: run `make build-lambda` or pass -c %s=<folder holding bootstrap>", what, dir, key)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func reservedConcurrency(cfg Config) *float64 {
	if cfg.ReservedConcurrency <= 0 {
		return nil
	}
	return jsii.Number(float64(cfg.ReservedConcurrency))
}

func priceClass(s string) awscloudfront.PriceClass {
	switch s {
	case "200":
		return awscloudfront.PriceClass_PRICE_CLASS_200
	case "All", "all":
		return awscloudfront.PriceClass_PRICE_CLASS_ALL
	default:
		return awscloudfront.PriceClass_PRICE_CLASS_100
	}
}

// retentionDays maps a number of days to the closest allowed retention at
// or above it.
func retentionDays(days int) awslogs.RetentionDays {
	allowed := []struct {
		days int
		r    awslogs.RetentionDays
	}{
		{1, awslogs.RetentionDays_ONE_DAY}, {3, awslogs.RetentionDays_THREE_DAYS},
		{5, awslogs.RetentionDays_FIVE_DAYS}, {7, awslogs.RetentionDays_ONE_WEEK},
		{14, awslogs.RetentionDays_TWO_WEEKS}, {30, awslogs.RetentionDays_ONE_MONTH},
		{60, awslogs.RetentionDays_TWO_MONTHS}, {90, awslogs.RetentionDays_THREE_MONTHS},
		{120, awslogs.RetentionDays_FOUR_MONTHS}, {150, awslogs.RetentionDays_FIVE_MONTHS},
		{180, awslogs.RetentionDays_SIX_MONTHS}, {365, awslogs.RetentionDays_ONE_YEAR},
		{400, awslogs.RetentionDays_THIRTEEN_MONTHS}, {545, awslogs.RetentionDays_EIGHTEEN_MONTHS},
		{731, awslogs.RetentionDays_TWO_YEARS}, {1096, awslogs.RetentionDays_THREE_YEARS},
		{1827, awslogs.RetentionDays_FIVE_YEARS}, {2192, awslogs.RetentionDays_SIX_YEARS},
		{2557, awslogs.RetentionDays_SEVEN_YEARS}, {2922, awslogs.RetentionDays_EIGHT_YEARS},
		{3288, awslogs.RetentionDays_NINE_YEARS}, {3653, awslogs.RetentionDays_TEN_YEARS},
	}
	for _, a := range allowed {
		if days <= a.days {
			return a.r
		}
	}
	return awslogs.RetentionDays_TEN_YEARS
}

// functionEnv is the gateway function's environment; denylist is where
// the takedown lists are (nil: none).
func functionEnv(cfg Config, indexBucket, packBucket, denylist *string) *map[string]*string {
	env := map[string]*string{
		EnvIndexBucket: indexBucket,
		EnvIndexPrefix: jsii.String(cfg.IndexPrefix),
		EnvPackBucket:  packBucket,
		EnvPackPrefix:  jsii.String(cfg.PackPrefix),
		EnvLogLevel:    jsii.String(strings.ToLower(cfg.LogLevel)),
	}
	if cfg.MetricsNamespace != "" {
		// Each request log line then also carries CloudWatch metrics (EMF).
		env[EnvEMF] = jsii.String(cfg.MetricsNamespace)
	}
	if denylist != nil {
		env[EnvDenylist] = denylist
	}
	return &env
}

// indexerEnv is the indexer function's environment (ingest=true): the
// stores as for the gateway, and where CARs come from and go when rejected.
func indexerEnv(cfg Config, indexBucket, packBucket *string) *map[string]*string {
	env := map[string]*string{
		EnvIndexBucket:    indexBucket,
		EnvIndexPrefix:    jsii.String(cfg.IndexPrefix),
		EnvPackBucket:     packBucket,
		EnvPackPrefix:     jsii.String(cfg.PackPrefix),
		EnvIngestPrefix:   jsii.String(cfg.IngestPrefix),
		EnvRejectedPrefix: jsii.String(cfg.RejectedPrefix),
		EnvIndexWriter:    jsii.String(cfg.IndexWriter),
		EnvLogLevel:       jsii.String(strings.ToLower(cfg.LogLevel)),
	}
	return &env
}
