// Package sim runs reproducible federated simulations on one machine: it
// loads a dataset, holds out a global test set, partitions the training rows
// among simulated sites, and drives the real coordinator engine (the same round
// state machine, SQLite store and aggregation strategies as a deployment)
// against in-process sites. With Transport "grpc" the same simulation runs over
// real gRPC with mutual TLS on loopback instead.
//
// The result compares the federated model with a centralised baseline: the same
// model trained on the pooled training rows for the same number of epochs
// (rounds × local epochs), both scored on the same held-out test set.
package sim
