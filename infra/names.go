package main

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// CloudFront's configuration resources are global to the account, not to
// a region: two stacks of the same name in two regions (a second
// deployment of this app) must not give any of them the same name, or the
// second `cdk deploy` fails with ...AlreadyExists. Every name the stack
// sets on such a resource is made by accountGlobalName, which ends in the
// stack's region; the rest are left to CDK, which puts the region in them
// too (cache policy, CloudFront Function), or to CloudFormation, which
// makes unique ones (IAM roles and policies, buckets, the web ACL).
// infra/README.md lists them; TestAccountGlobalNames synthesizes the same
// stack in two regions and compares every one.

// maxRegionCodeLen is the room a name keeps for a region code it cannot
// see at synth (an environment-agnostic stack): the longest codes today
// have 14 characters (ap-southeast-7, eusc-de-east-1).
const maxRegionCodeLen = 16

// accountGlobalName is "<stack name>-<purpose>-<region>" in at most
// maxLen characters; a name too long keeps the start of "<stack
// name>-<purpose>" and 8 hex digits of its SHA-256, so two stacks whose
// names differ only past the cut still get different names. The region is
// the stack's, a literal when the stack has one, else a reference to
// AWS::Region resolved by CloudFormation.
func accountGlobalName(stack awscdk.Stack, purpose string, maxLen int) *string {
	region := stack.Region()
	room := maxRegionCodeLen
	if !*awscdk.Token_IsUnresolved(region) {
		room = len(*region)
	}
	base := *stack.StackName() + "-" + purpose
	if budget := maxLen - 1 - room; len(base) > budget {
		sum := sha256.Sum256([]byte(base))
		base = base[:budget-9] + "-" + hex.EncodeToString(sum[:4])
	}
	return awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String(base), region})
}
