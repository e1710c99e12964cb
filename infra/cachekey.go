package main

import (
	_ "embed"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/jsii-runtime-go"
)

// cacheKeyCode is the viewer-request CloudFront Function that normalises
// the cache key and answers listed CIDs from the edge denylist: the
// minified form of cachekey.js (its header comment says what it does),
// made by esbuild (EsbuildArgs) and checked in. TestCacheKeyMinified fails
// when it is not what cachekey.js minifies to; regenerate it with
//
//	go generate ./infra
//
// after `bash .ci/tools.sh` (which installs the pinned esbuild). Minified
// at build time rather than at synth, so that `cdk synth` and `cdk deploy`
// need no esbuild binary of the deployer's platform, and what is deployed
// is in the repository, byte for byte.
//
//go:generate go test -run ^TestCacheKeyMinified$ -update .
//go:embed cachekey.min.js
var cacheKeyCode string

// MaxFunctionCodeBytes is CloudFront Functions' quota on a function's size.
const MaxFunctionCodeBytes = 10 * 1024

// EsbuildArgs minify cachekey.js for the cloudfront-js-2.0 runtime
// (CloudFront Developer Guide, "JavaScript runtime 2.0 features for
// CloudFront Functions"): ES 5.1 plus only the later syntax that page
// lists (const and let, async and await, template literals, arrow
// functions, rest parameters, **). A plain ES version target would not
// do: es5 cannot express async/await (esbuild refuses to lower them), and
// es2017 lets the minifier use syntax the runtime does not list (object
// shorthand, optional catch binding).
var EsbuildArgs = []string{
	"--minify", "--loader=js", "--legal-comments=none", "--charset=ascii",
	"--target=es5",
	"--supported:const-and-let=true",
	"--supported:async-await=true",
	"--supported:template-literal=true",
	"--supported:arrow=true",
	"--supported:rest-argument=true",
	"--supported:exponent-operator=true",
}

// CacheKeyFunctionCode is the code deployed (cachekey.min.js); the tests
// run exactly this text, taken from the template.
func CacheKeyFunctionCode() string { return cacheKeyCode }

// cacheKeyFunction makes the function; the distribution runs it on every
// viewer request of the default behaviour. kvs, when not nil, is the edge
// denylist the function reads.
func (s *GatewayStack) cacheKeyFunction(kvs awscloudfront.IKeyValueStore) awscloudfront.Function {
	props := &awscloudfront.FunctionProps{
		Comment: jsii.String("Hash Stream gateway: takedowns (edge denylist), then Accept and the query (the cache key)"),
		Runtime: awscloudfront.FunctionRuntime_JS_2_0(),
		Code:    awscloudfront.FunctionCode_FromInline(jsii.String(CacheKeyFunctionCode())),
	}
	if kvs != nil {
		props.KeyValueStore = kvs
	}
	return awscloudfront.NewFunction(s.Stack, jsii.String("CacheKeyFunction"), props)
}
