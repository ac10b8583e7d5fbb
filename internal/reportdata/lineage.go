package reportdata

import (
	"context"
	"fmt"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/registry"
	"github.com/cohortfl/cohort/report"
)

// fillLineage lists the run's signed model versions with their parents,
// verifies each artifact's hashes and signatures when the caller gave trust
// anchors, and checks the audit log against the head each card recorded.
func fillLineage(ctx context.Context, s *source, d *report.Data) error {
	arts, err := coordinator.LoadArtifacts(ctx, s.db, s.run.ID)
	if err != nil {
		return err
	}
	var log *audit.Log
	for _, a := range arts {
		art, err := registry.ParseArtifact(a.Artifact)
		if err != nil {
			d.Verification.Checks = append(d.Verification.Checks, report.VerificationCheck{
				Name: fmt.Sprintf("model %s %s", a.Name, a.Version), Detail: "the stored artifact does not parse: " + err.Error()})
			continue
		}
		c := art.Card()
		v := report.Version{Version: c.Version.String(), RunID: c.RunID, Round: c.Round, CreatedAt: c.CreatedAt, ParamsHash: c.ParamsSHA256}
		if c.ParentVersion != nil {
			v.Parent = c.ParentVersion.String()
		}
		d.Lineage = append(d.Lineage, v)
		if d.Summary.SchemaHash == "" {
			d.Summary.SchemaHash = c.Data.SchemaHash
		}
		name := fmt.Sprintf("model %s %s signatures", c.Name, c.Version)
		// Without trust anchors the signatures are not checked, and no check
		// is listed: a signature valid under a key nobody vouched for proves
		// nothing (cohort report --ca --coordinator-key, or models verify).
		if s.trust != nil {
			rep, err := registry.Verify(a.Artifact, *s.trust)
			check := report.VerificationCheck{Name: name, OK: err == nil && rep.OK}
			switch {
			case rep == nil:
				check.Detail = fmt.Sprintf("not checked: %v", err)
			case rep.OK:
				check.Detail = fmt.Sprintf("%d checks passed: coordinator %s signature, %d site co-signatures, params and version hash",
					len(rep.Checks), art.Suite(), len(art.CoSignatures()))
			default:
				check.Detail = err.Error()
			}
			d.Verification.Checks = append(d.Verification.Checks, check)
		}
		if h := c.AuditHead; h != nil {
			if log == nil {
				if log, err = audit.Open(ctx, s.db); err != nil {
					return err
				}
			}
			anchor, err := audit.ParseAnchor(fmt.Sprintf("%d:%s", h.Seq, h.Hash))
			if err != nil {
				return err
			}
			rep, err := log.VerifyAgainst(ctx, anchor)
			if err != nil {
				return err
			}
			check := report.VerificationCheck{Name: fmt.Sprintf("audit log against the head in %s %s", c.Name, c.Version), OK: rep.OK,
				Detail: fmt.Sprintf("the log still holds entry %d with the hash the signed card recorded", h.Seq)}
			if !rep.OK {
				check.Detail = rep.Err().Error()
			}
			d.Verification.Checks = append(d.Verification.Checks, check)
		}
	}
	return nil
}
