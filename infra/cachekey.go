package main

import (
	_ "embed"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/jsii-runtime-go"
)

// cacheKeySource is the viewer-request CloudFront Function that normalises
// the cache key (see the file's header comment).
//
//go:embed cachekey.js
var cacheKeySource string

// MaxFunctionCodeBytes is CloudFront Functions' quota on a function's size.
const MaxFunctionCodeBytes = 10 * 1024

// CacheKeyFunctionCode is the code deployed: cachekey.js without its
// comment lines and indentation, to stay under MaxFunctionCodeBytes. The
// file has no multi-line strings, so dropping those changes no behaviour;
// the tests run exactly this text, taken from the template.
func CacheKeyFunctionCode() string {
	var b strings.Builder
	for _, line := range strings.Split(cacheKeySource, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// cacheKeyFunction makes the function; the distribution runs it on every
// viewer request of the default behaviour.
func (s *GatewayStack) cacheKeyFunction() awscloudfront.Function {
	return awscloudfront.NewFunction(s.Stack, jsii.String("CacheKeyFunction"), &awscloudfront.FunctionProps{
		Comment: jsii.String("Hash Stream gateway: normalise Accept and the query (the cache key)"),
		Runtime: awscloudfront.FunctionRuntime_JS_2_0(),
		Code:    awscloudfront.FunctionCode_FromInline(jsii.String(CacheKeyFunctionCode())),
	})
}
