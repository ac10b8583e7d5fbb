package coordinator_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoordinatorCannotReachSiteSecrets checks the import graph: every secret
// of the threshold scheme (secret-key shares, Shamir shares, HPKE and Ed25519
// private keys) lives in package secagg/site, and nothing the coordinator is
// built from imports it. The coordinator handles public keys, ciphertexts,
// sealed envelopes and smudged decryption shares only.
func TestCoordinatorCannotReachSiteSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range []string{"github.com/cohortfl/cohort/coordinator", "github.com/cohortfl/cohort/coordinator/store"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %d packages", pkg, len(deps))
		}
		sawHub := false
		for _, d := range deps {
			if d == "github.com/cohortfl/cohort/secagg/site" || d == "github.com/cohortfl/cohort/client" {
				t.Errorf("%s depends on %s, which holds site secrets", pkg, d)
			}
			sawHub = sawHub || d == "github.com/cohortfl/cohort/secagg/hub"
		}
		if pkg == "github.com/cohortfl/cohort/coordinator" && !sawHub {
			t.Errorf("%s does not depend on secagg/hub; the check would pass vacuously", pkg)
		}
	}
}
