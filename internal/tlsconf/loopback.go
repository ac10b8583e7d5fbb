package tlsconf

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CheckLoopback returns nil if addr (host:port, [ipv6]:port, or a bare host)
// names only the loopback interface: an address in 127.0.0.0/8, ::1, or
// "localhost". Anything else, including an empty host (":8080" listens on all
// interfaces), 0.0.0.0, :: and any other host name, is refused with an error
// wrapping ErrNotLoopback. Host names other than localhost are not resolved.
//
// Use it before honouring --insecure, which turns off TLS and client
// authentication and is meant only for demos on one machine.
func CheckLoopback(addr string) error {
	host, err := hostOf(addr)
	if err != nil {
		return fmt.Errorf("%w: address %q: %w", ErrNotLoopback, addr, err)
	}
	if isLoopbackHost(host) {
		return nil
	}
	why := fmt.Sprintf("host %q is not a loopback address", host)
	if host == "" {
		why = "an empty host means every network interface"
	} else if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		why = fmt.Sprintf("%s means every network interface", host)
	}
	return fmt.Errorf("%w: refusing %q: %s; --insecure turns off TLS and client authentication and is only for demos on 127.0.0.1, [::1] or localhost; use mTLS certificates (cohort provision) for anything else",
		ErrNotLoopback, addr, why)
}

func hostOf(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host, nil
	}
	// No port: a bare host, possibly a bracketed or bare IPv6 address.
	if strings.HasPrefix(addr, "[") {
		if !strings.HasSuffix(addr, "]") {
			return "", fmt.Errorf("unbalanced brackets")
		}
		return addr[1 : len(addr)-1], nil
	}
	if strings.Count(addr, ":") == 1 {
		return "", fmt.Errorf("cannot parse host:port")
	}
	return addr, nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return a.WithZone("").Unmap().IsLoopback()
}
