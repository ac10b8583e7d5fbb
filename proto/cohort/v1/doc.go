// Package cohortv1 holds the Go code generated from cohort.proto, Cohort's wire
// protocol between sites, the coordinator and the operator's CLI.
//
// Do not edit the *.pb.go files: change cohort.proto and run
// scripts/genproto.sh, which pins protoc-gen-go to the google.golang.org/protobuf
// version in go.mod and protoc-gen-go-grpc to a fixed release.
//
// Sites dial out to the coordinator (SiteService.Connect) and receive tasks on
// that stream; models and updates travel in chunks so no single message comes
// near gRPC's default 4 MiB receive limit. A site's identity is the common name
// of its verified TLS client certificate (see internal/tlsconf.PeerIdentity),
// never a field of a request.
package cohortv1
