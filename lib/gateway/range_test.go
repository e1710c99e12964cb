package gateway

import (
	"errors"
	"net/http/httptest"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	tests := []struct {
		header string
		size   int64
		want   *contentRange // nil: whole block
		err    bool          // 416
	}{
		{"", size, nil, false},
		{"bytes=0-99", size, &contentRange{0, 99}, false},
		{"bytes=100-", size, &contentRange{100, 999}, false},
		{"bytes=-100", size, &contentRange{900, 999}, false},
		{"bytes=-2000", size, &contentRange{0, 999}, false},
		{"bytes=0-0", size, &contentRange{0, 0}, false},
		{"bytes=999-999", size, &contentRange{999, 999}, false},
		{"bytes=500-5000", size, &contentRange{500, 999}, false},
		{"bytes=0-99999999999999999999999", size, &contentRange{0, 999}, false},
		{"Bytes = 1-2", size, &contentRange{1, 2}, false},
		{"bytes= 1-2 ,", size, &contentRange{1, 2}, false},
		{"bytes=1000-", size, nil, true},
		{"bytes=1000-2000", size, nil, true},
		{"bytes=99999999999999999999999-", size, nil, true},
		{"bytes=-0", size, nil, true},
		{"bytes=0-1,5-6", size, nil, false},
		{"bytes=5-1", size, nil, false},
		{"bytes=a-b", size, nil, false},
		{"bytes=+1-2", size, nil, false},
		{"bytes=1 -2", size, nil, false},
		{"bytes=-", size, nil, false},
		{"bytes=", size, nil, false},
		{"bytes=12", size, nil, false},
		{"items=0-1", size, nil, false},
		{"0-1", size, nil, false},
		{"bytes=0-1", 0, nil, false},
		{"bytes=-5", 0, nil, false},
	}
	for _, tt := range tests {
		got, err := parseRange(tt.header, tt.size)
		var rangeErr *RangeError
		switch {
		case tt.err:
			if !errors.As(err, &rangeErr) || rangeErr.Size != tt.size {
				t.Errorf("%q: err %v, want RangeError", tt.header, err)
			}
		case err != nil:
			t.Errorf("%q: unexpected error %v", tt.header, err)
		case (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want:
			t.Errorf("%q: %+v, want %+v", tt.header, got, tt.want)
		}
	}
}

func TestContentRangeHeader(t *testing.T) {
	c := contentRange{First: 10, Last: 19}
	if c.Length() != 10 || c.Header(100) != "bytes 10-19/100" {
		t.Errorf("Length %d Header %q", c.Length(), c.Header(100))
	}
}

func TestRawRange(t *testing.T) {
	etag := `"` + rawBlockCID + `.raw"`
	tests := []struct {
		name    string
		rng     string
		ifRange string
		want    bool // a range applies
	}{
		{"no Range", "", "", false},
		{"Range", "bytes=0-1", "", true},
		{"If-Range match", "bytes=0-1", etag, true},
		{"If-Range other", "bytes=0-1", `"x"`, false},
		{"If-Range weak", "bytes=0-1", "W/" + etag, false},
		{"If-Range date", "bytes=0-1", "Wed, 21 Oct 2015 07:28:00 GMT", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ipfs/"+rawBlockCID, nil)
			if tt.rng != "" {
				r.Header.Set("Range", tt.rng)
			}
			if tt.ifRange != "" {
				r.Header.Set("If-Range", tt.ifRange)
			}
			got, err := rawRange(r, 100, etag)
			if err != nil || (got != nil) != tt.want {
				t.Errorf("RawRange = %+v, %v; want range %v", got, err, tt.want)
			}
		})
	}
}
