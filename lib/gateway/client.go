package gateway

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// A client is who a request comes from, for the memory budget's fair
// admission and per-client limit (see package budget and WithClientKey):
// by default the connection's remote address, behind a trusted proxy the
// address the proxy reports.

// maxClientKey bounds a client key taken from a header that holds no
// address (it is kept while the client has responses in flight).
const maxClientKey = 64

// RemoteAddrKey is the default client key: the request's remote address,
// an IPv6 address by its /64 (one host may hold a whole /64), without the
// port.
func RemoteAddrKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return addrKey(host)
}

// HeaderKey returns a client key for a server behind a trusted proxy that
// sets the header name to the address it saw (CloudFront-Viewer-Address,
// X-Real-IP) or appends it to a list (X-Forwarded-For): the key is the
// last address in the header's last line, an IPv6 one by its /64, with
// any port dropped; a request without the header is keyed by its remote
// address. Only a proxy that every request passes through may be trusted
// this way: a client reaching the server directly can write any header.
func HeaderKey(name string) func(*http.Request) string {
	return func(r *http.Request) string {
		values := r.Header.Values(name)
		if len(values) == 0 {
			return RemoteAddrKey(r)
		}
		v := values[len(values)-1]
		if i := strings.LastIndexByte(v, ','); i >= 0 {
			v = v[i+1:]
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return RemoteAddrKey(r)
		}
		return addrKey(v)
	}
}

// NoClientKey keys every request alike: one client, served in order (a
// proxy in front that reports no client address).
func NoClientKey(*http.Request) string { return "" }

// withoutPort parses an IPv6 address followed by ":port" without brackets,
// as CloudFront-Viewer-Address writes it (2001:db8:1:2:3:4:5:6:443).
func withoutPort(s string) (netip.Addr, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.Addr{}, errors.New("no port")
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil || !a.Is6() {
		return netip.Addr{}, errors.New("not an IPv6 address and a port")
	}
	return a, nil
}

// addrKey returns the key of an address written as host, host:port,
// [host]:port or an IPv6 host:port without brackets: an IPv4 address as is, an IPv6 one as its /64. Anything
// else is kept as written, cut to maxClientKey bytes.
func addrKey(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr == nil {
			a = ap.Addr()
		} else if a, err = withoutPort(s); err != nil {
			return clip(s, maxClientKey)
		}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
