package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := store.Open(filepath.Join(dir, "cohort.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	l, err := audit.Open(ctx, db)
	if err != nil {
		log.Fatal(err)
	}

	if _, err := l.Append(ctx, audit.Event{Kind: audit.KindSiteJoined, RunID: "demo", Actor: "site-a"}); err != nil {
		log.Fatal(err)
	}
	var digest [32]byte
	if _, err := l.Append(ctx, audit.UpdateReceived("demo", 1, "site-a", digest, []byte("sig"))); err != nil {
		log.Fatal(err)
	}
	// An entry that commits together with the decision it records.
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		// ... write the decision itself with tx ...
		_, err := l.AppendTx(ctx, tx, audit.Event{Kind: audit.KindGateDecision, RunID: "demo", Round: 1,
			Actor: audit.ActorCoordinator, Subject: "model/1", Detail: []byte(`{"passed":true}`)})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	// An auditor records the head outside the database ...
	anchor, err := l.Head(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// ... and later checks the chain and that nothing up to the anchor changed.
	rep, err := l.VerifyAgainst(ctx, anchor)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("entries:", rep.Entries, "ok:", rep.OK, "anchor seq:", anchor.Seq)

	events, err := l.List(ctx, audit.Filter{RunID: "demo", Kind: audit.KindGateDecision})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Seq, e.Kind, e.Actor, e.Subject, string(e.Detail))
	}
	// Output:
	// entries: 3 ok: true anchor seq: 3
	// 3 gate_decision coordinator model/1 {"passed":true}
}
