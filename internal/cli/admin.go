package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// AdminOptions are the connection flags of `cohort runs` and `cohort sites`,
// the admin API's command-line client.
type AdminOptions struct {
	IO            *IO
	Coordinator   string
	Cert, Key, CA string
	ServerName    string
	Insecure      bool
	Timeout       time.Duration
	Output        string
	tls           *tls.Config // set by dialAdmin
}

func adminFlags(cmd *cobra.Command, o *AdminOptions) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.Coordinator, "coordinator", "127.0.0.1:7443", "coordinator address host:port")
	f.StringVar(&o.Cert, "cert", "", "your operator certificate (PEM), role admin or auditor (cohort provision user)")
	f.StringVar(&o.Key, "key", "", "your private key (PEM)")
	f.StringVar(&o.CA, "ca", "", "consortium CA certificate (PEM)")
	f.StringVar(&o.ServerName, "server-name", "", "expected coordinator certificate name (default: the host of --coordinator)")
	f.BoolVar(&o.Insecure, "insecure", false, "no TLS, for a coordinator started with --insecure on loopback")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "deadline of each call")
	f.StringVar(&o.Output, "output", "text", "text or json")
}

func newCmdRuns(ios *IO) *cobra.Command {
	o := &AdminOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Start, stop and inspect runs through the coordinator's admin API",
		Long: `Call the coordinator's admin API with an operator's bundle (cohort provision user).
An admin may start and stop runs; an admin or an auditor may list and show
them. The coordinator checks the role in the certificate and refuses anything
else with PermissionDenied, naming the role.`,
		Example: `  cohort runs start run.json --cert pki/alice/alice.pem --key pki/alice/alice-key.pem --ca pki/alice/ca.pem
  cohort runs list --cert pki/carol/carol.pem --key pki/carol/carol-key.pem --ca pki/carol/ca.pem`,
	}
	adminFlags(cmd, o)
	start := &cobra.Command{
		Use: "start FILE", Short: "Start the run described by a JSON run configuration (admin)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error { return runsStartRun(o, a[0]) },
	}
	list := &cobra.Command{
		Use: "list", Short: "List runs (admin, auditor)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runsListRun(o) },
	}
	get := &cobra.Command{
		Use: "get RUN", Short: "Show one run (admin, auditor)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error { return runsGetRun(o, a[0], false) },
	}
	stop := &cobra.Command{
		Use: "stop RUN", Short: "Stop the run in progress (admin)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error { return runsGetRun(o, a[0], true) },
	}
	cmd.AddCommand(start, list, get, stop)
	return cmd
}

func newCmdSites(ios *IO) *cobra.Command {
	o := &AdminOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "sites",
		Short: "List the sites the coordinator knows, through its admin API",
	}
	adminFlags(cmd, o)
	list := &cobra.Command{
		Use: "list", Short: "List sites and whether they are connected (admin, auditor)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return sitesListRun(o) },
	}
	cmd.AddCommand(list)
	return cmd
}

// dialAdmin checks the operator's bundle (it must have the admin or auditor
// role) and returns an admin client.
func dialAdmin(o *AdminOptions) (cohortv1.AdminServiceClient, func(), error) {
	if err := checkOutput(o.Output); err != nil {
		return nil, nil, err
	}
	var creds credentials.TransportCredentials
	if o.Insecure {
		if err := tlsconf.CheckLoopback(o.Coordinator); err != nil {
			return nil, nil, fmt.Errorf("--coordinator: %w", err)
		}
		creds = insecure.NewCredentials()
	} else {
		if o.Cert == "" || o.Key == "" || o.CA == "" {
			return nil, nil, errors.New("the admin API needs --cert, --key and --ca of an operator bundle (cohort provision user NAME --role admin|auditor)")
		}
		cfg, err := tlsconf.ClientConfig(o.Cert, o.Key, o.CA, o.ServerName, tlsconf.WithUse(tlsconf.UseOperator))
		if err != nil {
			return nil, nil, err
		}
		o.tls = cfg
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(o.Coordinator, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, nil, fmt.Errorf("--coordinator %s: %w", o.Coordinator, err)
	}
	return cohortv1.NewAdminServiceClient(conn), func() { conn.Close() }, nil
}

// adminCall dials the admin API and returns a client and a context bounded
// by --timeout; done closes both.
func adminCall(o *AdminOptions) (cohortv1.AdminServiceClient, context.Context, func(), error) {
	admin, closeConn, err := dialAdmin(o)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	return admin, ctx, func() { cancel(); closeConn() }, nil
}

// callError turns a gRPC error into "coordinator ADDR: CODE: message". gRPC
// reports a refused handshake as a bare Unavailable ("broken pipe"), so then
// one TLS handshake is replayed to show the coordinator's alert.
func callError(o *AdminOptions, err error) error {
	st := status.Convert(err)
	if st.Code() == codes.Unavailable && o.tls != nil {
		if alert := tlsRefusal(o.Coordinator, o.tls); alert != nil {
			return fmt.Errorf("coordinator %s refused the TLS connection: %v (is the certificate revoked or expired? check it with cohort provision check; the coordinator logs the reason)",
				o.Coordinator, alert)
		}
	}
	return fmt.Errorf("coordinator %s: %s: %s", o.Coordinator, st.Code(), st.Message())
}

// tlsRefusal makes one TLS connection to addr and returns the alert the
// server sent, if it refused the certificate. With TLS 1.3 the refusal
// arrives on the first read. It returns nil if the server accepted, or if the
// failure is not a TLS refusal (the coordinator is down).
func tlsRefusal(addr string, cfg *tls.Config) error {
	c := cfg.Clone()
	c.NextProtos = []string{"h2"}
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil
		}
		c.ServerName = host
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, c)
	if err == nil {
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
	}
	var op *net.OpError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &op) && op.Op == "remote error" || errors.As(err, &verify) {
		return err
	}
	return nil
}

type runJSON struct {
	RunID              string             `json:"run_id"`
	State              string             `json:"state"`
	Error              string             `json:"error,omitempty"`
	RoundsTotal        uint64             `json:"rounds_total"`
	RoundsCompleted    uint64             `json:"rounds_completed"`
	LatestModelVersion uint64             `json:"latest_model_version"`
	LastMetrics        map[string]float64 `json:"last_metrics,omitempty"`
}

func toRunJSON(s *cohortv1.RunStatus) runJSON {
	return runJSON{RunID: s.RunId, State: s.State, Error: s.Error, RoundsTotal: s.RoundsTotal,
		RoundsCompleted: s.RoundsCompleted, LatestModelVersion: s.LatestModelVersion, LastMetrics: s.LastMetrics}
}

func runsStartRun(o *AdminOptions, file string) error {
	_, raw, err := readRunConfig(file)
	if err != nil {
		return err
	}
	admin, ctx, done, err := adminCall(o)
	if err != nil {
		return err
	}
	defer done()
	st, err := admin.StartRun(ctx, &cohortv1.StartRunRequest{ConfigJson: string(raw)})
	if err != nil {
		return callError(o, err)
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, toRunJSON(st))
	}
	fmt.Fprintf(o.IO.Out, "started run %s (%d rounds)\n", st.RunId, st.RoundsTotal)
	return nil
}

func runsListRun(o *AdminOptions) error {
	admin, ctx, done, err := adminCall(o)
	if err != nil {
		return err
	}
	defer done()
	res, err := admin.ListRuns(ctx, &cohortv1.ListRunsRequest{})
	if err != nil {
		return callError(o, err)
	}
	out := make([]runJSON, len(res.Runs))
	for i, r := range res.Runs {
		out[i] = toRunJSON(r)
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATE\tROUNDS\tMODEL\tERROR")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\n", r.RunID, r.State, r.RoundsCompleted, r.RoundsTotal, r.LatestModelVersion, r.Error)
	}
	return tw.Flush()
}

// runsGetRun shows a run, after stopping it if stop.
func runsGetRun(o *AdminOptions, run string, stop bool) error {
	admin, ctx, done, err := adminCall(o)
	if err != nil {
		return err
	}
	defer done()
	var st *cohortv1.RunStatus
	if stop {
		st, err = admin.StopRun(ctx, &cohortv1.StopRunRequest{RunId: run})
	} else {
		st, err = admin.GetRun(ctx, &cohortv1.GetRunRequest{RunId: run})
	}
	if err != nil {
		return callError(o, err)
	}
	r := toRunJSON(st)
	if o.Output == "json" {
		return writeJSON(o.IO.Out, r)
	}
	fmt.Fprintf(o.IO.Out, "run %s\nstate %s\nrounds %d of %d\nmodel version %d\n", r.RunID, r.State, r.RoundsCompleted, r.RoundsTotal, r.LatestModelVersion)
	if r.Error != "" {
		fmt.Fprintf(o.IO.Out, "error %s\n", r.Error)
	}
	if len(r.LastMetrics) > 0 {
		keys := make([]string, 0, len(r.LastMetrics))
		for k := range r.LastMetrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%g", k, r.LastMetrics[k])
		}
		fmt.Fprintf(o.IO.Out, "last metrics %s\n", strings.Join(parts, " "))
	}
	return nil
}

type siteJSON struct {
	Name        string `json:"name"`
	Connected   bool   `json:"connected"`
	NumExamples int64  `json:"num_examples"`
	LastSeen    string `json:"last_seen,omitempty"`
}

func sitesListRun(o *AdminOptions) error {
	admin, ctx, done, err := adminCall(o)
	if err != nil {
		return err
	}
	defer done()
	res, err := admin.ListSites(ctx, &cohortv1.ListSitesRequest{})
	if err != nil {
		return callError(o, err)
	}
	out := make([]siteJSON, len(res.Sites))
	for i, s := range res.Sites {
		out[i] = siteJSON{Name: s.Name, Connected: s.Connected, NumExamples: s.NumExamples}
		if s.LastSeenUnixMs > 0 {
			out[i].LastSeen = stampOf(time.UnixMilli(s.LastSeenUnixMs))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if o.Output == "json" {
		return writeJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tCONNECTED\tEXAMPLES\tLAST SEEN")
	for _, s := range out {
		fmt.Fprintf(tw, "%s\t%t\t%d\t%s\n", s.Name, s.Connected, s.NumExamples, s.LastSeen)
	}
	return tw.Flush()
}
