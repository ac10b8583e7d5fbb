// Command cohort is the single binary of the Cohort federated learning
// platform: simulation, coordinator, site client and operator tools.
package main

import (
	"os"

	"github.com/cohortfl/cohort/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
