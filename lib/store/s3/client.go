package s3

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultRegion is the region NewClient uses for a custom endpoint when the
// configuration chain names none (local S3-compatible servers ignore it).
const DefaultRegion = "us-east-1"

// Environment variables read by ConfigFromEnv.
const (
	EnvEndpointS3     = "AWS_ENDPOINT_URL_S3"             // the AWS SDKs' S3 endpoint
	EnvEndpoint       = "AWS_ENDPOINT_URL"                // the AWS SDKs' endpoint for all services
	EnvEndpointLegacy = "AWS_ENDPOINT"                    // what the JavaScript Hash Stream CLI reads
	EnvForcePathStyle = "HASH_STREAM_S3_FORCE_PATH_STYLE" // "true" or "false"
)

// Config says how NewClient reaches S3. The zero value reaches Amazon S3
// the way the AWS SDK's configuration chain says.
type Config struct {
	// Endpoint is the base URL of an S3-compatible server, such as
	// http://127.0.0.1:7070. Empty means Amazon S3 (or whatever endpoint
	// the shared configuration names).
	Endpoint string

	// Region overrides the region of the configuration chain.
	Region string

	// PathStyle says whether buckets go in the URL path (host/bucket/key)
	// rather than the host name (bucket.host/key). Nil means path-style
	// exactly when Endpoint is set, since local servers don't serve
	// bucket.host names.
	PathStyle *bool
}

// ConfigFromEnv returns the Config that the environment asks for: Endpoint
// from AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS_ENDPOINT (the
// name the JavaScript CLI reads); PathStyle from
// HASH_STREAM_S3_FORCE_PATH_STYLE ("true" or "false") when set. Credentials
// and region are left to the configuration chain. Programs in cmd/ and
// functions/ call it; nothing in lib/ does.
func ConfigFromEnv() (Config, error) {
	var c Config
	for _, name := range []string{EnvEndpointS3, EnvEndpoint, EnvEndpointLegacy} {
		if v := os.Getenv(name); v != "" {
			c.Endpoint = v
			break
		}
	}
	if v := os.Getenv(EnvForcePathStyle); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("s3: %s=%q: want true or false", EnvForcePathStyle, v)
		}
		c.PathStyle = &b
	}
	return c, nil
}

// NewClient returns an S3 client from config.LoadDefaultConfig (the
// environment, shared configuration files, and the instance or Lambda role),
// changed as cfg says. Checksums are computed and validated only where the
// S3 API requires them, so ranged GETs don't log checksum warnings. Extra
// load options, such as config.WithCredentialsProvider, go after those.
func NewClient(ctx context.Context, cfg Config, optFns ...func(*config.LoadOptions) error) (*s3.Client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, append(opts, optFns...)...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" && cfg.Endpoint != "" {
		awsCfg.Region = DefaultRegion
	}
	pathStyle := cfg.Endpoint != ""
	if cfg.PathStyle != nil {
		pathStyle = *cfg.PathStyle
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = pathStyle
	}), nil
}
