// Package secwire translates between package secagg's message types and their
// protobuf form (cohort.v1.SecAgg*), and encodes values that are too wide for
// one fixed-point coordinate of the secure sum.
//
// It imports only the public half of secure aggregation (package secagg), so
// the coordinator can use it without reaching any secret-key type.
package secwire
