package fetch

import (
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptyPayloadHash is the SHA-256 of an empty body, in hex: a GET's.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// SigV4 returns a request editor (WithRequestEditor) that signs each
// request with AWS Signature Version 4 for service (e.g. "lambda" for a
// Function URL with IAM auth) in region, with credentials from creds
// (retrieved, and refreshed, per request: the SDK caches them).
func SigV4(creds aws.CredentialsProvider, service, region string) func(*http.Request) error {
	signer := v4.NewSigner()
	return func(req *http.Request) error {
		c, err := creds.Retrieve(req.Context())
		if err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		req.Header.Set("X-Amz-Content-Sha256", emptyPayloadHash)
		return signer.SignHTTP(req.Context(), c, req, emptyPayloadHash, service, region, time.Now())
	}
}
