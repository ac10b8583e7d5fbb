package tlsconf_test

import (
	"fmt"

	"github.com/cohortfl/cohort/internal/tlsconf"
)

func ExampleCheckLoopback() {
	fmt.Println(tlsconf.CheckLoopback("127.0.0.1:7443"))
	fmt.Println(tlsconf.CheckLoopback("[::1]:7443"))
	fmt.Println(tlsconf.CheckLoopback("0.0.0.0:7443") != nil)
	// Output:
	// <nil>
	// <nil>
	// true
}
