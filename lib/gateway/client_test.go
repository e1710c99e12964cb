package gateway_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
)

func TestClientKeys(t *testing.T) {
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name, remote, header string
		values               []string
		want                 string
	}{
		{"ipv4", "192.0.2.7:4711", "", nil, "192.0.2.7"},
		{"ipv6 by its /64", "[2001:db8:1:2:3:4:5:6]:443", "", nil, "2001:db8:1:2::/64"},
		{"ipv4-mapped", "[::ffff:192.0.2.7]:1", "", nil, "192.0.2.7"},
		{"no header: remote", "192.0.2.7:1", "X-Forwarded-For", nil, "192.0.2.7"},
		{"last of the list", "10.0.0.1:1", "X-Forwarded-For", []string{"203.0.113.9, 198.51.100.4"}, "198.51.100.4"},
		{"last line", "10.0.0.1:1", "X-Forwarded-For", []string{"203.0.113.9", "198.51.100.4 "}, "198.51.100.4"},
		{"address and port", "10.0.0.1:1", "CloudFront-Viewer-Address", []string{"[2001:db8::1]:5555"}, "2001:db8::/64"},
		{"CloudFront's IPv6 and port", "10.0.0.1:1", "CloudFront-Viewer-Address", []string{"2001:db8:1:2:3:4:5:6:46532"}, "2001:db8:1:2::/64"},
		{"CloudFront's IPv4 and port", "10.0.0.1:1", "CloudFront-Viewer-Address", []string{"198.51.100.10:46532"}, "198.51.100.10"},
		{"empty: remote", "10.0.0.1:1", "X-Real-IP", []string{" "}, "10.0.0.1"},
		{"not an address: clipped", "10.0.0.1:1", "X-Client", []string{long}, long[:64] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ipfs/x", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.values {
				r.Header.Add(tt.header, v)
			}
			key := gateway.RemoteAddrKey
			if tt.header != "" {
				key = gateway.HeaderKey(tt.header)
			}
			if got := key(r); got != tt.want {
				t.Errorf("key %q, want %q", got, tt.want)
			}
		})
	}
	if got := gateway.NoClientKey(httptest.NewRequest("GET", "/", nil)); got != "" {
		t.Errorf("NoClientKey = %q", got)
	}
}
