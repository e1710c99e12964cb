// Command infra is the CDK app of Hash Stream on AWS: one stack with the
// index and pack buckets, the gateway Lambda behind a streaming Function
// URL, and a CloudFront distribution in front of it. cdk.json at the
// repository root runs it; see README.md for the context keys.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		jsii.Close()
		os.Exit(1)
	}
	jsii.Close()
}

func run() error {
	app := awscdk.NewApp(nil)
	cfg, err := ConfigFromContext(app.Node())
	if err != nil {
		return err
	}
	if _, err := NewGatewayStack(app, cfg.StackName, &GatewayStackProps{
		StackProps: awscdk.StackProps{Env: envFromCLI()},
		Config:     cfg,
	}); err != nil {
		return err
	}
	ApplyNag(app, true)
	app.Synth(nil)
	return nil
}

// ApplyNag runs the AWS Solutions rules of cdk-nag over every stack of the
// app: findings become errors and warnings on the constructs, and an error
// fails `cdk synth`. reports writes its CSV report to the cloud assembly.
func ApplyNag(app awscdk.App, reports bool) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(reports),
	}), nil)
}

// envFromCLI pins the stack to the account and region the CDK CLI resolved
// from the credentials (CDK_DEFAULT_*), when it did; else the stack is
// environment-agnostic and synthesizes offline.
func envFromCLI() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" && region == "" {
		return nil
	}
	env := &awscdk.Environment{}
	if account != "" {
		env.Account = jsii.String(account)
	}
	if region != "" {
		env.Region = jsii.String(region)
	}
	return env
}
