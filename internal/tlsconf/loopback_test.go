package tlsconf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/internal/tlsconf"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:1", true},
		{"127.0.0.1:8080", true},
		{"127.1.2.3:1", true},
		{"[::1]:1", true},
		{"localhost:1", true},
		{"LOCALHOST:1", true},
		{"localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"[::1]", true},
		{"[::ffff:127.0.0.1]:1", true},
		{"0.0.0.0:1", false},
		{":1", false},
		{"[::]:1", false},
		{"", false},
		{"10.0.0.1:1", false},
		{"192.168.1.10:443", false},
		{"[2001:db8::1]:1", false},
		{"example.com:1", false},
		{"localhost.example.com:1", false},
		{"128.0.0.1:1", false},
		{"[::1:1", false},
	}
	for _, tt := range tests {
		err := tlsconf.CheckLoopback(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v; want ok=%v", tt.addr, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, tlsconf.ErrNotLoopback) {
				t.Errorf("CheckLoopback(%q) = %v; want ErrNotLoopback", tt.addr, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "--insecure") || !strings.Contains(msg, "loopback") {
				t.Errorf("CheckLoopback(%q) = %q; want an explanation mentioning --insecure and loopback", tt.addr, msg)
			}
		}
	}
	if err := tlsconf.CheckLoopback(":8080"); err == nil || !strings.Contains(err.Error(), "every network interface") {
		t.Errorf("CheckLoopback(\":8080\") = %v; want it to say an empty host means every interface", err)
	}
}
