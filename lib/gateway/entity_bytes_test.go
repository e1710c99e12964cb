package gateway

import (
	"errors"
	"testing"
)

func TestParseEntityBytes(t *testing.T) {
	tests := []struct {
		in   string
		want EntityBytes
		err  bool
	}{
		{"0:*", EntityBytes{From: 0, ToEnd: true}, false},
		{"0:1023", EntityBytes{From: 0, To: 1023}, false},
		{"10:10", EntityBytes{From: 10, To: 10}, false},
		{"-1024:*", EntityBytes{From: -1024, ToEnd: true}, false},
		{"499:-1000", EntityBytes{From: 499, To: -1000}, false},
		{"-100:50", EntityBytes{From: -100, To: 50}, false},
		{"-100:-50", EntityBytes{From: -100, To: -50}, false},
		{"-9223372036854775808:-1", EntityBytes{From: -1 << 63, To: -1}, false},
		{"", EntityBytes{}, true},
		{"10", EntityBytes{}, true},
		{":", EntityBytes{}, true},
		{"1:", EntityBytes{}, true},
		{":1", EntityBytes{}, true},
		{"*:*", EntityBytes{}, true},
		{"*:10", EntityBytes{}, true},
		{"a:b", EntityBytes{}, true},
		{"+1:2", EntityBytes{}, true},
		{" 1:2", EntityBytes{}, true},
		{"1:2:3", EntityBytes{}, true},
		{"1.5:2", EntityBytes{}, true},
		{"10:5", EntityBytes{}, true},
		{"-5:-10", EntityBytes{}, true},
		{"-:1", EntityBytes{}, true},
		{"99999999999999999999:*", EntityBytes{}, true},
	}
	for _, tt := range tests {
		got, err := parseEntityBytes(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("%q: err %v, want bad request", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("%q: String() = %q", tt.in, got.String())
		}
	}
}

func TestEntityBytesResolve(t *testing.T) {
	const size = 3072
	tests := []struct {
		in          string
		size        int64
		first, last int64
		ok          bool
	}{
		{"0:*", size, 0, 3071, true},
		{"0:1023", size, 0, 1023, true},
		{"1024:2047", size, 1024, 2047, true},
		{"-1024:*", size, 2048, 3071, true},
		{"499:-1000", size, 499, 2072, true},
		{"0:99999", size, 0, 3071, true},
		{"-99999:*", size, 0, 3071, true},
		{"-99999:10", size, 0, 10, true},
		{"3071:*", size, 3071, 3071, true},
		{"3072:*", size, 0, 0, false},
		{"5000:6000", size, 0, 0, false},
		{"2000:-2000", size, 0, 0, false},
		{"0:-99999", size, 0, 0, false},
		{"0:*", 0, 0, 0, false},
	}
	for _, tt := range tests {
		eb, err := parseEntityBytes(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		first, last, ok := eb.Resolve(tt.size)
		if first != tt.first || last != tt.last || ok != tt.ok {
			t.Errorf("%q of %d: %d-%d %v, want %d-%d %v", tt.in, tt.size, first, last, ok, tt.first, tt.last, tt.ok)
		}
	}
}
