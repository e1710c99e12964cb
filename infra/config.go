package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
)

// Defaults for the context keys read by ConfigFromContext.
const (
	DefaultStackName = "HashStreamGateway"
	// DefaultLambdaDir is where `make build-lambda` leaves the function's
	// bootstrap, relative to the directory cdk runs in (the repository root).
	DefaultLambdaDir = "build/lambda/gateway"
	DefaultMemoryMB  = 1024
	// DefaultTimeoutSeconds: a streamed response may be up to 200 MB and,
	// past its first 6 MB, goes at about 2 MB/s, so a full-size CAR needs
	// about 100 s; 120 s leaves headroom.
	DefaultTimeoutSeconds   = 120
	DefaultLogRetentionDays = 30
	DefaultLogLevel         = "info"
	// DefaultOriginReadTimeoutSeconds is how long CloudFront waits for the
	// first byte (and then between bytes) of a response. 60 s is allowed in
	// every account; up to 120 s with the current default quota; more only
	// with a quota increase. A streamed CAR is not cut by it, as long as
	// bytes keep coming.
	DefaultOriginReadTimeoutSeconds = 60
	// DefaultOriginKeepaliveTimeoutSeconds is how long CloudFront keeps an
	// idle connection to the origin open for the next request (CloudFront's
	// own default is 5 s): block-by-block clients send many small requests,
	// each of which would otherwise pay a new TCP and TLS handshake to the
	// origin.
	DefaultOriginKeepaliveTimeoutSeconds = 60
	// QuotaOriginTimeoutSeconds is the most CloudFront's default quotas
	// allow for the origin response (read) and keep-alive timeouts
	// (CloudFront Developer Guide, "Quotas": 1-120 seconds each, "Request a
	// higher quota"); MaxOriginTimeoutSeconds is the most this stack takes
	// at all, with an approved increase.
	QuotaOriginTimeoutSeconds = 120
	MaxOriginTimeoutSeconds   = 180
	// DefaultServerTimingSamplingRate is the share of responses (percent)
	// CloudFront adds its Server-Timing header to (cache hit or miss, time
	// to the origin's first byte, the edge location); 0 turns it off.
	DefaultServerTimingSamplingRate = 100
	DefaultPriceClass               = "100"
	// DefaultAccessLogExpirationDays is how long server access logs and
	// CloudFront access logs are kept in the log bucket.
	DefaultAccessLogExpirationDays = 90
	// DefaultWAFRateLimit is how many requests one client IP may make in 5
	// minutes with waf=true before the web ACL blocks it. Block-by-block
	// clients ask for every block of a file on its own (a 1 GiB file of
	// 1 MiB blocks is about a thousand requests), and cache hits count too:
	// 2000 lets one client fetch about 2 GiB that way every 5 minutes.
	DefaultWAFRateLimit = 2000
	// DefaultImageDir is where `make image-stage` leaves the arm64 image's
	// build context (Dockerfile, static binary, certificates, passwd) for
	// compute=ecs, relative to the repository root.
	DefaultImageDir = "build/image/arm64"
	// DefaultMinTasks and DefaultMaxTasks bound the Fargate service's
	// autoscaling (compute=ecs). One task always runs: a service behind a
	// load balancer does not scale to zero.
	DefaultMinTasks = 1
	DefaultMaxTasks = 4
	// MaxTasks bounds maxTasks: the account's default Fargate vCPU quota
	// is far below 100 tasks of 1 vCPU in a new account anyway.
	MaxTasks = 100
	// DefaultTaskCPU (1 vCPU) and DefaultTaskMemoryMB are one Fargate
	// task's size; serve's memory budget defaults fit in 2 GiB.
	DefaultTaskCPU      = 1024
	DefaultTaskMemoryMB = 2048
	// MaxReservedConcurrency bounds reservedConcurrency; the account's
	// default concurrency quota is 1000 per region.
	MaxReservedConcurrency = 10000
	// MinWAFRateLimit and MaxWAFRateLimit are what AWS WAF accepts for a
	// rate-based rule's limit.
	MinWAFRateLimit = 10
	MaxWAFRateLimit = 2000000000
	// MaxStreamSeconds is how long a Lambda response of the largest size the
	// gateway streams (lambdastream.DefaultMaxBytes, 199,000,000 bytes) takes:
	// the first 6 MB uncapped, the rest at 2 MB/s (Lambda docs, "Bandwidth
	// limits for response streaming"). A function timeout below it cuts such
	// a response.
	MaxStreamSeconds = (199_000_000 - 6_000_000 + 2_000_000 - 1) / 2_000_000

	// DefaultPackPrefix is the pack store's key prefix in a pack bucket the
	// stack makes: the JavaScript CLI's S3 store takes one too
	// (HASH_STREAM_S3_PACK_PREFIX), and with it the grants on packs stop at
	// packs/ instead of covering the whole bucket (ingest/, rejected/). An
	// imported bucket keeps no prefix unless packPrefix is given; `-c
	// packPrefix=` (empty) keeps a made bucket's packs at its root, as
	// stacks made before this default did.
	DefaultPackPrefix = "packs/"

	// DefaultIngestPrefix is where, in the pack bucket, a CAR dropped for
	// the indexer goes (ingest=true); DefaultRejectedPrefix is where the
	// indexer moves a CAR that fails parsing or verification.
	DefaultIngestPrefix   = "ingest/"
	DefaultRejectedPrefix = "rejected/"
	// DefaultIndexerLambdaDir is where `make build-lambda` leaves the
	// indexer's arm64 bootstrap, DefaultIndexerLambdaDirX86_64 its amd64 one.
	DefaultIndexerLambdaDir       = "build/lambda/indexer"
	DefaultIndexerLambdaDirX86_64 = "build/lambda/indexer-amd64"
	DefaultIndexerMemoryMB        = 1024
	// DefaultIndexerTimeoutSeconds is Lambda's maximum: one invocation
	// streams one whole CAR (a 1 GiB CAR at tens of MB/s takes about a
	// minute; a 5 GB one several).
	DefaultIndexerTimeoutSeconds = 900
	// DefaultIndexWriter is which index records the indexer writes: both
	// kinds, as `pack import --index-writer all`, so block-by-block
	// clients find every block.
	DefaultIndexWriter = "all"
)

// Config is everything the stack can be told through CDK context
// (`cdk deploy -c key=value` or the "context" object of cdk.json).
type Config struct {
	StackName string
	// LambdaDir holds the function's bootstrap, built for Architecture.
	LambdaDir string
	// Architecture is the function's instruction set: "arm64" (default)
	// or "x86_64" (for `sam local invoke` on an x86_64 host).
	Architecture string

	// Compute is where the gateway runs: "lambda" (default, a function
	// behind a streaming Function URL) or "ecs" (a Fargate service behind
	// an internal load balancer, a CloudFront VPC origin).
	Compute string
	// ImageDir is the Docker build context of the image (compute=ecs).
	ImageDir string
	// MinTasks and MaxTasks bound the service's autoscaling; TaskCPU (CPU
	// units, 1024 = 1 vCPU) and TaskMemoryMB size each task.
	MinTasks     int
	MaxTasks     int
	TaskCPU      int
	TaskMemoryMB int

	// IndexBucketName and PackBucketName, when set, import existing
	// buckets instead of creating new ones.
	IndexBucketName string
	PackBucketName  string
	IndexPrefix     string
	PackPrefix      string
	// RemovalPolicy for the buckets and log group the stack creates:
	// "retain" (default) or "destroy" (CloudFormation deletes only empty
	// buckets).
	RemovalPolicy string

	MemoryMB         int
	TimeoutSeconds   int
	LogRetentionDays int
	LogLevel         string
	// MetricsNamespace, when set, makes the function publish per-request
	// CloudWatch metrics in it through its log lines (Embedded Metric
	// Format): bytes, blocks, storage reads, cache hits, TTFB, duration.
	// Custom metrics are billed, so it is off by default.
	MetricsNamespace string

	// AccessLogs turns on S3 server access logs for the created buckets and
	// CloudFront standard logs, both into one log bucket.
	AccessLogs              bool
	AccessLogExpirationDays int

	OriginReadTimeoutSeconds int
	// OriginKeepaliveTimeoutSeconds is how long CloudFront keeps an idle
	// connection to the origin.
	OriginKeepaliveTimeoutSeconds int
	// OriginShieldRegion, when set, turns on CloudFront Origin Shield in
	// that region for the origin (Lambda or ECS): one origin fetch per
	// object instead of one per regional edge cache.
	OriginShieldRegion string
	// ServerTimingSamplingRate is the percent of responses that carry
	// CloudFront's Server-Timing header (0: none).
	ServerTimingSamplingRate float64
	PriceClass               string
	// WebACLArn attaches an existing AWS WAF web ACL (scope CLOUDFRONT,
	// made in us-east-1) to the distribution.
	WebACLArn string

	// ReservedConcurrency, when above 0, caps (and reserves) the function's
	// concurrent executions: a bound on cost and on the load on S3.
	ReservedConcurrency int
	// WAF makes an AWS WAF web ACL with a rate-based rule per client IP
	// (WAFRateLimit requests per 5 minutes) and attaches it to the
	// distribution. A CloudFront web ACL lives in us-east-1, so the stack
	// makes it only there (as for the certificate); elsewhere use WebACLArn.
	WAF          bool
	WAFRateLimit int
	// WAFCacheBustingRateLimit, when above 0 (with WAF), adds a second
	// rate-based rule, tighter than WAFRateLimit, counting only requests
	// whose query names entity-bytes or filename: the parameters that make
	// a new cache entry (and an origin invocation) for the same content.
	WAFCacheBustingRateLimit int
	// CloudFrontPrefixListID (compute=ecs) is the ID of the region's
	// CloudFront managed prefix list (com.amazonaws.global.cloudfront.origin-facing):
	// when set, the load balancer admits only it instead of the VPC's range.
	CloudFrontPrefixListID string
	// KMSKeyArn grants kms:Decrypt on that key (for imported buckets
	// encrypted with SSE-KMS), through S3 only.
	KMSKeyArn string
	// Alarms makes CloudWatch alarms and a dashboard; AlarmEmail adds an SNS
	// topic with that email subscription as the alarms' action.
	Alarms     bool
	AlarmEmail string

	// Heal is the self-healing part: the invalidator of the paths of
	// cut responses (heal.go).
	Heal HealConfig

	// Ingest makes the indexer function, which turns CARs dropped under
	// IngestPrefix of the pack bucket into packs and index records, with
	// its S3 event notification, failure queue and alarm.
	Ingest bool
	// IngestPrefix and RejectedPrefix are key prefixes in the pack bucket:
	// where CARs are dropped, and where the indexer moves the ones that
	// fail verification.
	IngestPrefix   string
	RejectedPrefix string
	// IndexerLambdaDir holds the indexer's bootstrap, built for
	// Architecture.
	IndexerLambdaDir      string
	IndexerMemoryMB       int
	IndexerTimeoutSeconds int
	// IndexWriter is HASH_STREAM_INDEX_WRITER: all, single-level or
	// multiple-level.
	IndexWriter string
	// IndexerConcurrency, when above 0, reserves and caps the indexer's
	// concurrent executions: a bound on the write load on S3.
	IndexerConcurrency int

	// Denylist is where the takedown lists (IPIP-383) are: "true" (a
	// bucket the stack makes, with an initial list), "false" (none: no
	// takedowns at the origin nor at the edge) or an existing
	// s3://bucket/prefix/ that already holds a valid list. The edge
	// denylist (a CloudFront KeyValueStore) is made unless "false".
	Denylist string

	// DomainName is an optional custom domain for the distribution.
	DomainName     string
	HostedZoneID   string
	HostedZoneName string
	// CertificateArn is an existing ACM certificate in us-east-1 covering
	// DomainName. Without it the stack requests one itself, which works
	// only when the stack is deployed to us-east-1.
	CertificateArn string
}

// ContextKeys lists every context key ConfigFromContext reads.
var ContextKeys = []string{
	"stackName", "lambdaDir", "architecture",
	"compute", "imageDir", "minTasks", "maxTasks", "taskCpu", "taskMemory",
	"indexBucketName", "packBucketName", "indexPrefix", "packPrefix", "removalPolicy",
	"memorySize", "timeout", "logRetentionDays", "logLevel", "metricsNamespace",
	"accessLogs", "accessLogExpirationDays",
	"originReadTimeout", "originKeepaliveTimeout", "originShieldRegion", "serverTimingSamplingRate", "priceClass", "webAclArn",
	"reservedConcurrency", "waf", "wafRateLimit", "wafCacheBustingRateLimit", "cloudFrontPrefixListId", "kmsKeyArn", "alarms", "alarmEmail",
	"domainName", "hostedZoneId", "hostedZoneName", "certificateArn",
	"invalidatorLambdaDir", "invalidationsPerHour", "invalidatorConcurrency",
	"ingest", "ingestPrefix", "rejectedPrefix", "indexerLambdaDir", "indexerMemorySize", "indexerTimeout",
	"indexWriter", "indexerConcurrency",
	"denylist",
}

// ingestKeys are the context keys that need ingest=true. indexerLambdaDir
// is not one: like lambdaDir, a build path the Makefile may pass to every
// synth.
var ingestKeys = []string{"ingestPrefix", "rejectedPrefix", "indexerMemorySize", "indexerTimeout", "indexWriter", "indexerConcurrency"}

// contextReader reads typed values from a construct's context. Values come
// as strings from `-c key=value` and as JSON types from cdk.json.
type contextReader struct {
	node constructs.Node
	errs []error
}

func (r *contextReader) raw(key string) (string, bool) {
	v := r.node.TryGetContext(&key)
	if v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v), true
	case *string:
		if v == nil {
			return "", false
		}
		return strings.TrimSpace(*v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	default:
		return fmt.Sprint(v), true
	}
}

func (r *contextReader) str(key, def string) string {
	if v, ok := r.raw(key); ok && v != "" {
		return v
	}
	return def
}

// strOrEmpty is str for a key whose empty value means empty, not the
// default: only an absent key takes def.
func (r *contextReader) strOrEmpty(key, def string) string {
	if v, ok := r.raw(key); ok {
		return v
	}
	return def
}

// defaultPackPrefix is DefaultPackPrefix for a pack bucket the stack
// makes, none for an imported one (its layout is the writer's).
func defaultPackPrefix(packBucketName string) string {
	if packBucketName == "" {
		return DefaultPackPrefix
	}
	return ""
}

func (r *contextReader) integer(key string, def, minV, maxV int) int {
	s, ok := r.raw(key)
	if !ok || s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < minV || n > maxV {
		r.errs = append(r.errs, fmt.Errorf("context %s=%q: want an integer in [%d, %d]", key, s, minV, maxV))
		return def
	}
	return n
}

// number reads a decimal number in [minV, maxV] with at most decimals
// digits after the point.
func (r *contextReader) number(key string, def, minV, maxV float64, decimals int) float64 {
	s, ok := r.raw(key)
	if !ok || s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	_, frac, _ := strings.Cut(s, ".")
	if err != nil || f < minV || f > maxV || len(frac) > decimals || strings.ContainsAny(s, "eE") {
		r.errs = append(r.errs, fmt.Errorf("context %s=%q: want a number in [%g, %g] with at most %d decimals", key, s, minV, maxV, decimals))
		return def
	}
	return f
}

func (r *contextReader) boolean(key string, def bool) bool {
	s, ok := r.raw(key)
	if !ok || s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("context %s=%q: want true or false", key, s))
		return def
	}
	return b
}

// ConfigFromContext reads the stack's configuration from node's context,
// filling defaults, and reports every invalid value at once.
func ConfigFromContext(node constructs.Node) (Config, error) {
	r := &contextReader{node: node}
	arch := strings.ToLower(r.str("architecture", ArchARM64))
	c := Config{
		StackName:                r.str("stackName", DefaultStackName),
		LambdaDir:                r.str("lambdaDir", defaultLambdaDir(arch)),
		Architecture:             arch,
		Compute:                  strings.ToLower(r.str("compute", ComputeLambda)),
		ImageDir:                 r.str("imageDir", DefaultImageDir),
		MinTasks:                 r.integer("minTasks", DefaultMinTasks, 1, MaxTasks),
		MaxTasks:                 r.integer("maxTasks", DefaultMaxTasks, 1, MaxTasks),
		TaskCPU:                  r.integer("taskCpu", DefaultTaskCPU, 256, 16384),
		TaskMemoryMB:             r.integer("taskMemory", DefaultTaskMemoryMB, 512, 122880),
		IndexBucketName:          r.str("indexBucketName", ""),
		PackBucketName:           r.str("packBucketName", ""),
		IndexPrefix:              r.str("indexPrefix", ""),
		PackPrefix:               r.strOrEmpty("packPrefix", defaultPackPrefix(r.str("packBucketName", ""))),
		RemovalPolicy:            strings.ToLower(r.str("removalPolicy", "retain")),
		MemoryMB:                 r.integer("memorySize", DefaultMemoryMB, 128, 10240),
		TimeoutSeconds:           r.integer("timeout", DefaultTimeoutSeconds, 1, 900),
		LogRetentionDays:         r.integer("logRetentionDays", DefaultLogRetentionDays, 1, 3653),
		LogLevel:                 r.str("logLevel", DefaultLogLevel),
		MetricsNamespace:         r.str("metricsNamespace", ""),
		AccessLogs:               r.boolean("accessLogs", true),
		AccessLogExpirationDays:  r.integer("accessLogExpirationDays", DefaultAccessLogExpirationDays, 1, 3653),
		OriginReadTimeoutSeconds: r.integer("originReadTimeout", DefaultOriginReadTimeoutSeconds, 1, MaxOriginTimeoutSeconds),
		// CloudFront's ranges ("Quotas", General quotas on distributions):
		// 1-120 s by default, more with an approved increase (a warning at
		// synth, see GatewayStack.warnings).
		OriginKeepaliveTimeoutSeconds: r.integer("originKeepaliveTimeout", DefaultOriginKeepaliveTimeoutSeconds, 1, MaxOriginTimeoutSeconds),
		OriginShieldRegion:            strings.ToLower(r.str("originShieldRegion", "")),
		// A response headers policy's sampling rate: 0 to 100 with up to four
		// decimal places (CloudFront's own check, repeated by CDK).
		ServerTimingSamplingRate: r.number("serverTimingSamplingRate", DefaultServerTimingSamplingRate, 0, 100, 4),
		PriceClass:               r.str("priceClass", DefaultPriceClass),
		WebACLArn:                r.str("webAclArn", ""),
		ReservedConcurrency:      r.integer("reservedConcurrency", 0, 1, MaxReservedConcurrency),
		WAF:                      r.boolean("waf", false),
		WAFRateLimit:             r.integer("wafRateLimit", DefaultWAFRateLimit, MinWAFRateLimit, MaxWAFRateLimit),
		WAFCacheBustingRateLimit: r.integer("wafCacheBustingRateLimit", 0, MinWAFRateLimit, MaxWAFRateLimit),
		CloudFrontPrefixListID:   r.str("cloudFrontPrefixListId", ""),
		KMSKeyArn:                r.str("kmsKeyArn", ""),
		Alarms:                   r.boolean("alarms", true),
		AlarmEmail:               r.str("alarmEmail", ""),
		DomainName:               strings.TrimSuffix(r.str("domainName", ""), "."),
		HostedZoneID:             r.str("hostedZoneId", ""),
		HostedZoneName:           strings.TrimSuffix(r.str("hostedZoneName", ""), "."),
		CertificateArn:           r.str("certificateArn", ""),
		Ingest:                   r.boolean("ingest", false),
		// Not trimmed of a trailing "/" nor given one: Validate asks for it,
		// so what the user typed is what the grants and the function use.
		IngestPrefix:          r.str("ingestPrefix", DefaultIngestPrefix),
		RejectedPrefix:        r.str("rejectedPrefix", DefaultRejectedPrefix),
		IndexerLambdaDir:      r.str("indexerLambdaDir", defaultIndexerLambdaDir(arch)),
		IndexerMemoryMB:       r.integer("indexerMemorySize", DefaultIndexerMemoryMB, 128, 10240),
		IndexerTimeoutSeconds: r.integer("indexerTimeout", DefaultIndexerTimeoutSeconds, 1, 900),
		IndexWriter:           strings.ToLower(r.str("indexWriter", DefaultIndexWriter)),
		IndexerConcurrency:    r.integer("indexerConcurrency", 0, 1, MaxReservedConcurrency),
		Denylist:              denylistValue(r.str("denylist", DenylistOn)),
	}
	c.Heal = readHealConfig(r, arch)
	// Keys of the other compute option are an error rather than ignored.
	only := map[string][]string{
		ComputeECS:    {"minTasks", "maxTasks", "taskCpu", "taskMemory", "imageDir", "cloudFrontPrefixListId"},
		ComputeLambda: {"memorySize", "timeout", "reservedConcurrency", "architecture"},
	}
	for compute, keys := range only {
		if c.Compute == compute {
			continue
		}
		for _, k := range keys {
			if v, ok := r.raw(k); ok && v != "" {
				r.errs = append(r.errs, fmt.Errorf("context %s needs compute=%s", k, compute))
			}
		}
	}
	if !c.Ingest {
		for _, k := range ingestKeys {
			if v, ok := r.raw(k); ok && v != "" {
				r.errs = append(r.errs, fmt.Errorf("context %s needs ingest=true", k))
			}
		}
	}
	for _, k := range []string{"wafRateLimit", "wafCacheBustingRateLimit"} {
		if v, ok := r.raw(k); ok && v != "" && !c.WAF {
			r.errs = append(r.errs, fmt.Errorf("context %s needs waf=true", k))
		}
	}
	errs := append(r.errs, c.Validate())
	return c, errors.Join(errs...)
}

var prefixListIDRE = regexp.MustCompile(`^pl-[0-9a-f]{8,17}$`)

var kmsKeyArnRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)

// Validate checks the combinations ConfigFromContext cannot check key by key.
func (c Config) Validate() error {
	var errs []error
	switch c.RemovalPolicy {
	case "retain", "destroy":
	default:
		errs = append(errs, fmt.Errorf("context removalPolicy=%q: want retain or destroy", c.RemovalPolicy))
	}
	switch c.Compute {
	case ComputeLambda:
		if _, ok := elfMachine[c.Architecture]; !ok {
			errs = append(errs, fmt.Errorf("context architecture=%q: want arm64 or x86_64", c.Architecture))
		}
	case ComputeECS:
		if c.MinTasks > c.MaxTasks {
			errs = append(errs, fmt.Errorf("context minTasks=%d is above maxTasks=%d", c.MinTasks, c.MaxTasks))
		}
		if err := checkFargateSize(c.TaskCPU, c.TaskMemoryMB); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("context compute=%q: want lambda or ecs", c.Compute))
	}
	switch c.PriceClass {
	case "100", "200", "All", "all":
	default:
		errs = append(errs, fmt.Errorf("context priceClass=%q: want 100, 200 or All", c.PriceClass))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("context logLevel=%q: want debug, info, warn or error", c.LogLevel))
	}
	for key, p := range map[string]string{"indexPrefix": c.IndexPrefix, "packPrefix": c.PackPrefix} {
		if strings.HasPrefix(p, "/") || strings.ContainsAny(p, "*?") {
			errs = append(errs, fmt.Errorf("context %s=%q: a key prefix must not start with / nor hold * or ?", key, p))
		}
	}
	if c.KMSKeyArn != "" {
		if !kmsKeyArnRE.MatchString(c.KMSKeyArn) {
			errs = append(errs, fmt.Errorf("context kmsKeyArn=%q: want arn:<partition>:kms:<region>:<account>:key/<key id>", c.KMSKeyArn))
		}
		if c.IndexBucketName == "" && c.PackBucketName == "" {
			errs = append(errs, errors.New("context kmsKeyArn is for imported SSE-KMS buckets (indexBucketName, packBucketName); the buckets the stack makes use S3-managed keys"))
		}
	}
	if c.WAFCacheBustingRateLimit > 0 && c.WAFCacheBustingRateLimit >= c.WAFRateLimit {
		errs = append(errs, fmt.Errorf("context wafCacheBustingRateLimit=%d: the cache-busting rule must be tighter than wafRateLimit=%d (it counts a subset of the same requests)", c.WAFCacheBustingRateLimit, c.WAFRateLimit))
	}
	if c.Compute == ComputeLambda && c.TimeoutSeconds < c.OriginReadTimeoutSeconds {
		errs = append(errs, fmt.Errorf("context timeout=%d is below originReadTimeout=%d: the function is stopped before CloudFront would give up waiting for its first byte, so the read timeout never applies; raise timeout or lower originReadTimeout", c.TimeoutSeconds, c.OriginReadTimeoutSeconds))
	}
	if c.OriginShieldRegion != "" && !slices.Contains(OriginShieldRegions, c.OriginShieldRegion) {
		errs = append(errs, fmt.Errorf("context originShieldRegion=%q: Origin Shield is offered only in %s (CloudFront Developer Guide, \"Choosing the AWS Region for Origin Shield\"); pick the one closest to the stack's region", c.OriginShieldRegion, strings.Join(OriginShieldRegions, ", ")))
	}
	if c.CloudFrontPrefixListID != "" && !prefixListIDRE.MatchString(c.CloudFrontPrefixListID) {
		errs = append(errs, fmt.Errorf("context cloudFrontPrefixListId=%q: want a managed prefix list ID (pl-<hex>), from `aws ec2 describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing`", c.CloudFrontPrefixListID))
	}
	if c.WAF && c.WebACLArn != "" {
		errs = append(errs, errors.New("context waf=true makes a web ACL and webAclArn attaches an existing one: pass one of them"))
	}
	if c.AlarmEmail != "" {
		if !c.Alarms {
			errs = append(errs, errors.New("context alarmEmail needs alarms=true"))
		}
		if at := strings.Index(c.AlarmEmail, "@"); at < 1 || at == len(c.AlarmEmail)-1 || strings.ContainsAny(c.AlarmEmail, " \t,;<>") || strings.Count(c.AlarmEmail, "@") != 1 {
			errs = append(errs, fmt.Errorf("context alarmEmail=%q: want one email address", c.AlarmEmail))
		}
	}
	if c.Ingest {
		errs = append(errs, c.validateIngest()...)
	}
	if err := c.validateDenylist(); err != nil {
		errs = append(errs, err)
	}
	if c.DomainName == "" {
		if c.HostedZoneID != "" || c.HostedZoneName != "" || c.CertificateArn != "" {
			errs = append(errs, errors.New("context hostedZoneId, hostedZoneName and certificateArn need domainName"))
		}
	} else if c.HostedZoneID == "" && c.HostedZoneName == "" {
		errs = append(errs, errors.New("context domainName needs hostedZoneId (offline) or hostedZoneName (looked up in the account)"))
	}
	return errors.Join(errs...)
}

// validateIngest checks the ingest prefixes against each other and against
// the stores in the pack bucket (and the index store, when it shares the
// bucket). Overlaps are refused, not merely warned about: a pack, index
// file or rejected CAR written under the ingest prefix fires the indexer
// again (a loop of invocations), and an ingest or rejected key that could
// be a pack key could be mistaken for, or overwrite, a pack.
func (c Config) validateIngest() []error {
	var errs []error
	switch c.IndexWriter {
	case "all", "single-level", "multiple-level":
	default:
		errs = append(errs, fmt.Errorf("context indexWriter=%q: want all, single-level or multiple-level", c.IndexWriter))
	}
	prefixes := []struct{ key, p string }{{"ingestPrefix", c.IngestPrefix}, {"rejectedPrefix", c.RejectedPrefix}}
	for _, x := range prefixes {
		if x.p == "" || !strings.HasSuffix(x.p, "/") || strings.HasPrefix(x.p, "/") || strings.ContainsAny(x.p, "*?") || strings.Contains(x.p, "//") {
			errs = append(errs, fmt.Errorf("context %s=%q: want a non-empty key prefix ending in / (like ingest/), without a leading /, // or * ?", x.key, x.p))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if strings.HasPrefix(c.IngestPrefix, c.RejectedPrefix) || strings.HasPrefix(c.RejectedPrefix, c.IngestPrefix) {
		errs = append(errs, fmt.Errorf("context ingestPrefix=%q and rejectedPrefix=%q overlap: a rejected CAR moved under the ingest prefix would fire the indexer again", c.IngestPrefix, c.RejectedPrefix))
	}
	stores := []struct{ key, p, shape string }{{"packPrefix", c.PackPrefix, "pack"}}
	if c.IndexBucketName != "" && c.IndexBucketName == c.PackBucketName {
		stores = append(stores, struct{ key, p, shape string }{"indexPrefix", c.IndexPrefix, "index"})
	}
	for _, x := range prefixes {
		for _, st := range stores {
			if st.p != "" && strings.HasPrefix(st.p, x.p) {
				errs = append(errs, fmt.Errorf("context %s=%q is inside %s=%q: every %s the indexer writes would land under it", st.key, st.p, x.key, x.p, st.shape))
				continue
			}
			rest, ok := strings.CutPrefix(x.p, st.p)
			if !ok {
				continue
			}
			if seg, _, _ := strings.Cut(rest, "/"); storeKeySegmentRE.MatchString(seg) {
				errs = append(errs, fmt.Errorf("context %s=%q: its first segment after %s=%q, %q, could be a %s key (the base32 CID string b...): pick a name that does not start with b or holds a character outside a-z2-7 (like ingest/)", x.key, x.p, st.key, st.p, seg, st.shape))
			}
		}
	}
	return errs
}

// storeKeySegmentRE matches a key segment that could be k(mh), the base32
// CIDv1 string ("b" then a-z2-7) that starts every pack and index key
// under the store's prefix.
var storeKeySegmentRE = regexp.MustCompile(`^b[a-z2-7]*$`)
