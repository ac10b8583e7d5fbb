// Package privacy is Cohort's differential privacy: accountants that turn
// noisy releases into an (ε, δ) guarantee (privacy/accountant), a durable
// ledger of every release (privacy/ledger), and the client-level DP-FedAvg
// mechanisms (clipping and Gaussian noise on sums). Record-level DP-SGD runs
// inside each site (model.TrainDP). See docs/differential-privacy.md for the
// mechanisms, the adjacency notions and the accounting maths.
package privacy
