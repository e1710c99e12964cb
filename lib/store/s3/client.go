package s3

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultRegion is the region NewClient uses for a custom endpoint when the
// configuration chain names none (local S3-compatible servers ignore it).
const DefaultRegion = "us-east-1"

// Timeouts of the HTTP client of NewClient. S3 answers a GET's headers in
// tens of milliseconds and streams its body at tens of MB/s, so these only
// end connections that are broken, with a wide margin. They are also short
// enough that a request that gets no answer fails, after the SDK's 3
// attempts, within 3 x (3.1 s + 5 s) + under 0.2 s of backoff = 24.5 s:
// under CloudFront's origin response timeout (30 s by default, 60 s in
// this project's stack), so a client gets the gateway's 504, not
// CloudFront's.
const (
	// DefaultConnectTimeout bounds a TCP connect, and then a TLS handshake:
	// the value of the AWS SDKs' "standard" defaults mode, just over the
	// 3 s that two lost SYNs cost (Linux resends at 1 s and at 3 s).
	DefaultConnectTimeout = 3100 * time.Millisecond
	// DefaultHeaderTimeout bounds the wait for response headers once the
	// request is sent: about 50 times S3's usual first-byte latency, and
	// over twice the 2 s after which S3's performance guidelines advise
	// retrying a small GET.
	DefaultHeaderTimeout = 5 * time.Second
	// DefaultBodyTimeout ends a read of a response body that gets no byte
	// for that long: a connection that stalled. S3 never pauses a body that
	// long while the reader reads.
	DefaultBodyTimeout = 5 * time.Second
)

// Environment variables read by ConfigFromEnv.
const (
	EnvEndpointS3     = "AWS_ENDPOINT_URL_S3"             // the AWS SDKs' S3 endpoint
	EnvEndpoint       = "AWS_ENDPOINT_URL"                // the AWS SDKs' endpoint for all services
	EnvEndpointLegacy = "AWS_ENDPOINT"                    // what the JavaScript Hash Stream CLI reads
	EnvForcePathStyle = "HASH_STREAM_S3_FORCE_PATH_STYLE" // "true" or "false"
	// The timeouts, as Go durations such as "5s" or "800ms".
	EnvConnectTimeout = "HASH_STREAM_S3_CONNECT_TIMEOUT"
	EnvHeaderTimeout  = "HASH_STREAM_S3_HEADER_TIMEOUT"
	EnvBodyTimeout    = "HASH_STREAM_S3_BODY_TIMEOUT"
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

	// ConnectTimeout bounds a TCP connect, and then a TLS handshake.
	// HeaderTimeout bounds the wait for the response headers once the
	// request is fully sent. BodyTimeout ends a read of a response body
	// that gets no byte for that long, with a *BodyTimeoutError (the
	// multipart upload completion and copies, during which S3 may send
	// nothing but spaces for minutes, are exempt). Each applies to every
	// attempt, and the SDK's retryer makes up to 3 attempts of a request.
	// Zero means the Default* value; negative, none.
	ConnectTimeout, HeaderTimeout, BodyTimeout time.Duration
}

// ConfigFromEnv returns the Config that the environment asks for: Endpoint
// from AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS_ENDPOINT (the
// name the JavaScript CLI reads); PathStyle from
// HASH_STREAM_S3_FORCE_PATH_STYLE ("true" or "false") when set; the
// timeouts from HASH_STREAM_S3_CONNECT_TIMEOUT, HASH_STREAM_S3_HEADER_TIMEOUT
// and HASH_STREAM_S3_BODY_TIMEOUT (positive Go durations, such as "5s") when
// set. Credentials and region are left to the configuration chain. Programs
// in cmd/ and functions/ call it; nothing in lib/ does.
func ConfigFromEnv() (Config, error) { return ConfigFromGetenv(os.Getenv) }

// ConfigFromGetenv is ConfigFromEnv reading the variables with getenv.
func ConfigFromGetenv(getenv func(string) string) (Config, error) {
	var c Config
	for _, name := range []string{EnvEndpointS3, EnvEndpoint, EnvEndpointLegacy} {
		if v := getenv(name); v != "" {
			c.Endpoint = v
			break
		}
	}
	if v := getenv(EnvForcePathStyle); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("s3: %s=%q: want true or false", EnvForcePathStyle, v)
		}
		c.PathStyle = &b
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{EnvConnectTimeout, &c.ConnectTimeout}, {EnvHeaderTimeout, &c.HeaderTimeout}, {EnvBodyTimeout, &c.BodyTimeout}} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil || t <= 0 {
			return Config{}, fmt.Errorf("s3: %s=%q: want a positive duration such as 5s or 800ms", d.name, v)
		}
		*d.to = t
	}
	return c, nil
}

// timeout returns d, or def when d is zero, or 0 (none) when d is
// negative.
func timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// NewClient returns an S3 client from config.LoadDefaultConfig (the
// environment, shared configuration files, and the instance or Lambda role),
// changed as cfg says, with an HTTP client of its own that has cfg's
// timeouts (the SDK's default has none: a server that accepts and never
// answers, or stalls mid-body, would hang a read for as long as the
// connection lives); it replaces any HTTP client of the load options.
// Checksums are computed and validated only where the S3 API requires
// them, so ranged GETs don't log checksum warnings. Extra load options,
// such as config.WithCredentialsProvider, go after those.
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
	connect := timeout(cfg.ConnectTimeout, DefaultConnectTimeout)
	header := timeout(cfg.HeaderTimeout, DefaultHeaderTimeout)
	body := timeout(cfg.BodyTimeout, DefaultBodyTimeout)
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = connect }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = connect
			tr.ResponseHeaderTimeout = header
		})
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = pathStyle
		o.HTTPClient = httpClient
		if body > 0 {
			o.APIOptions = append(o.APIOptions, addBodyTimeout(body))
		}
	}), nil
}
