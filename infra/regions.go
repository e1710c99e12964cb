package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// What the stack needs of its region, and where AWS says it is missing.
// Each gap names the AWS page it rests on (infra/README.md, "Regions",
// lists them with the date they were read); checkRegion refuses a stack
// whose region lacks a feature its configuration uses, before any
// construct is made, instead of failing at `cdk deploy`.

// regionGap is one feature and the regions that lack it.
type regionGap struct {
	feature string
	// applies reports whether the configuration uses the feature.
	applies func(Config) bool
	// unavailable are the region codes where the feature is missing.
	unavailable []string
	// source is the title of the AWS page that says so.
	source string
	// fix is what to do instead, as the error says it.
	fix string
}

// regionGaps is the table checkRegion reads.
var regionGaps = []regionGap{
	{
		// The gateway streams through a Function URL (invoke mode
		// RESPONSE_STREAM): a region without Function URLs has no way to
		// serve it. The response streaming page itself defers to "AWS
		// Capabilities by Region"; the Function URL page names the regions.
		feature:     "Lambda function URLs (the gateway's response-streaming endpoint)",
		applies:     func(c Config) bool { return c.Compute == ComputeLambda },
		unavailable: functionURLUnavailable,
		source:      `Lambda Developer Guide, "Creating and managing Lambda function URLs"`,
		fix:         "deploy the stack in another region, or pass -c compute=ecs (Fargate behind a CloudFront VPC origin)",
	},
	{
		feature:     "CloudFront VPC origins (how the distribution reaches the internal load balancer)",
		applies:     func(c Config) bool { return c.Compute == ComputeECS },
		unavailable: vpcOriginUnavailable,
		source:      `CloudFront Developer Guide, "Restrict access with VPC origins" (Supported AWS Regions for VPC origins)`,
		fix:         "deploy the stack in another region, or use -c compute=lambda",
	},
	{
		// Standard logging (legacy) writes into an S3 bucket through an ACL
		// grant; the log bucket is in the stack's region.
		feature:     "CloudFront standard logging (legacy) into an S3 bucket in this region",
		applies:     func(c Config) bool { return c.AccessLogs },
		unavailable: standardLogsUnavailable,
		source:      `CloudFront Developer Guide, "Configure standard logging (legacy)" (Choose an Amazon S3 bucket for standard logs) and "Configure standard logging (v2)"`,
		fix:         "pass -c accessLogs=false (no log bucket: S3 server access logs, CloudFront logs and, with compute=ecs, load balancer and flow logs are all off)",
	},
}

// functionURLUnavailable: "Function URLs are not supported in the
// following AWS Regions" (Lambda Developer Guide, "Creating and managing
// Lambda function URLs", read 2026-11-29).
var functionURLUnavailable = []string{
	"ap-south-2",     // Asia Pacific (Hyderabad)
	"ap-southeast-4", // Asia Pacific (Melbourne)
	"ap-southeast-5", // Asia Pacific (Malaysia)
	"ap-southeast-6", // Asia Pacific (New Zealand)
	"ap-southeast-7", // Asia Pacific (Thailand)
	"ap-east-2",      // Asia Pacific (Taipei)
	"ca-west-1",      // Canada West (Calgary)
	"eu-south-2",     // Europe (Spain)
	"eu-central-2",   // Europe (Zurich)
	"il-central-1",   // Israel (Tel Aviv)
	"me-central-1",   // Middle East (UAE)
}

// vpcOriginSupported is the page's list of commercial regions where VPC
// origins are supported ("Restrict access with VPC origins", read
// 2026-11-29). Four of them exclude one Availability Zone each (by AZ ID:
// use1-az3, usw1-az2, apne1-az3, cac1-az3), which synth cannot see: the
// README's first-deploy checklist has the command that shows the AZ IDs.
var vpcOriginSupported = []string{
	"us-east-2", "us-east-1", "us-west-1", "us-west-2", "af-south-1", "ap-east-1",
	"ap-south-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-northeast-3",
	"ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
	"ap-southeast-7", "ap-southeast-5", "ap-east-2", "ca-central-1", "ca-west-1",
	"eu-central-1", "eu-west-1", "eu-west-2", "eu-south-1", "eu-west-3", "eu-south-2",
	"eu-north-1", "eu-central-2", "il-central-1", "me-south-1", "me-central-1",
	"sa-east-1", "mx-central-1",
}

// vpcOriginUnavailable are the commercial regions of commercialRegions
// missing from vpcOriginSupported (TestRegionTables derives it again).
var vpcOriginUnavailable = []string{
	"ap-southeast-6", // Asia Pacific (New Zealand)
}

// standardLogsUnavailable: the page names four regions ("Don't choose an
// Amazon S3 bucket in any of the following Regions, because CloudFront
// doesn't deliver access logs to buckets in these Regions": af-south-1,
// ap-east-1, eu-south-1, me-south-1), which are the opt-in regions that
// existed when it was written; standard logging (v2) lists "Send logs to
// opt-in AWS Regions" as one of its own features. So every opt-in region
// (AWS Account Management, "Enable or disable AWS Regions in your account":
// the regions launched after March 20, 2019) is taken as unsupported.
var standardLogsUnavailable = optInRegions

// optInRegions are the commercial regions that are disabled by default.
var optInRegions = []string{
	"af-south-1",     // Africa (Cape Town): named by the CloudFront page
	"ap-east-1",      // Asia Pacific (Hong Kong): named
	"eu-south-1",     // Europe (Milan): named
	"me-south-1",     // Middle East (Bahrain): named
	"ap-east-2",      // Asia Pacific (Taipei)
	"ap-south-2",     // Asia Pacific (Hyderabad)
	"ap-southeast-3", // Asia Pacific (Jakarta)
	"ap-southeast-4", // Asia Pacific (Melbourne)
	"ap-southeast-5", // Asia Pacific (Malaysia)
	"ap-southeast-6", // Asia Pacific (New Zealand)
	"ap-southeast-7", // Asia Pacific (Thailand)
	"ca-west-1",      // Canada West (Calgary)
	"eu-central-2",   // Europe (Zurich)
	"eu-south-2",     // Europe (Spain)
	"il-central-1",   // Israel (Tel Aviv)
	"me-central-1",   // Middle East (UAE)
	"mx-central-1",   // Mexico (Central)
}

// commercialRegions are the regions of the aws partition the tables
// above were checked against.
var commercialRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"af-south-1",
	"ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1",
	"il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
}

// OriginShieldRegions are the regions CloudFront offers Origin Shield in
// (CloudFront Developer Guide, "Use Amazon CloudFront Origin Shield",
// Choosing the AWS Region for Origin Shield: the twelve of the published
// guide source, and me-central-1, which later copies of the page add).
var OriginShieldRegions = []string{
	"us-east-2", "us-east-1", "us-west-2",
	"ap-south-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
	"eu-central-1", "eu-west-1", "eu-west-2",
	"sa-east-1", "me-central-1",
}

// checkRegion refuses a configuration its region cannot serve, naming
// the feature, the region, the AWS page and what to do. A stack without a
// region (synth without credentials: environment-agnostic) is not
// checked; the CDK CLI always hands the app one (else us-east-1).
func checkRegion(cfg Config, env *awscdk.Environment) error {
	if env == nil || env.Region == nil || *env.Region == "" {
		return nil
	}
	return regionErrors(cfg, strings.ToLower(*env.Region))
}

func regionErrors(cfg Config, region string) error {
	var errs []error
	for _, g := range regionGaps {
		if g.applies(cfg) && slices.Contains(g.unavailable, region) {
			errs = append(errs, fmt.Errorf("region %s: %s is not available there (%s): %s", region, g.feature, g.source, g.fix))
		}
	}
	return errors.Join(errs...)
}
