// Package dataset loads tabular CSV data into model.Examples for Cohort:
// schema, type inference, one-hot encoding, federated standardisation,
// embedded public datasets and the partitioners used by simulations.
//
// # Schema and loading
//
// A Schema names the binary label column and its positive value (class 1),
// an optional negative value, the protected attributes, the dropped columns,
// and optional type and level overrides. Load parses CSV with encoding/csv:
// one header row, an empty field is a missing value, every row has as many
// fields as the header. Errors name the source, the line, the column and the
// bad value, e.g.
//
//	hmda.csv:17: column "pirat": "abc" is not a number
//
// and wrap a sentinel (ErrFormat, ErrColumn, ErrValue, ErrLabel, ...).
//
// Labels: the Positive value is class 1 and every other value class 0. A
// missing label is an error. With Schema.Negative set, a value that is
// neither Positive nor Negative is an error, and a table without positives
// is fine (a small site may have none). Without Negative, the label may take
// only one value besides Positive, and Positive must occur, which catches a
// misspelt positive class.
//
// # Type inference
//
// A column is Numeric if every non-missing value parses as a float
// (strconv.ParseFloat), otherwise Categorical. In a numeric column, text that
// parses to NaN or ±Inf ("NaN", "Inf", "1e999") is an error; force the column
// Categorical in Schema.Types if such text is a category. Schema.Types forces
// a type (a forced Numeric column with a non-number is an error); a column
// with Schema.Levels is Categorical. The label and dropped columns are never
// type-checked. Federations should fix Types and Levels in the schema, so
// that inference, which sees only local data, cannot differ between sites.
//
// # Encoding
//
// An Encoder fixes the feature layout: the table's columns in header order
// minus the label, dropped columns, and protected columns when
// Schema.ExcludeProtected is set. Protected values stay available through
// Table.Protected either way. A numeric column is one feature, missing as
// NaN. A categorical column with levels l1..lm becomes m indicator features
// named "col=l"; levels come from Schema.Levels (in that order) or else are
// the sorted distinct local values. A missing categorical value encodes as an
// all-zero indicator block; a value outside the levels is ErrUnknownLevel.
// EncoderSpec is the serialisable form of an Encoder, for shipping to sites.
//
// # Federated standardisation and imputation
//
// Standardisation needs global means and variances without pooling data:
//
//  1. Every site encodes its rows and computes m_i = LocalMoments(x_i): per
//     feature, the count of non-missing values, their sum and their sum of
//     squares (a vector of length 3D).
//  2. The vectors go through the secure sum of package aggregation; only
//     M = Σ m_i is revealed.
//  3. Every site calls NewStandardizer(M, D), which computes the mean and
//     the population standard deviation sqrt(E[x²] - mean²) per feature. A
//     feature with zero variance gets std 1; one with no values gets mean 0.
//  4. Standardizer.Apply maps x to (x - mean)/std and imputes every missing
//     value with 0, i.e. with the global mean of the feature. This is the
//     package's only imputation rule.
//
// One-hot indicators are standardised like any other feature; use
// Encoder.NumericMask to tell them apart.
//
// # Embedded datasets
//
// Five public datasets (see shared/datasets/README.md for their provenance
// and licences) are embedded gzipped; data/gen.sh recreates the files.
// Builtins lists them and Builtin(name).Load() parses one with its default
// schema, in which every feature column has a fixed type and every
// categorical column fixed levels:
//
//	name           label     positive  protected                      dropped
//	german_credit  Class     Good      sex, Age, ForeignWorker        -
//	hmda           deny      yes       afam, single                   -
//	pima_diabetes  diabetes  pos       age                            -
//	flchain        death     1         sex, age                       futime, chapter
//	fertility      morekids  yes       afam, hispanic, other, age     -
//
// flchain's futime and chapter leak the label and are dropped. hmda's
// insurance is a near-proxy for denial (44 of its 48 "yes" rows are denied)
// but is kept; drop it with LoadWith if that matters. german_credit's sex is
// derived from PersonalStatus, which remains a feature. Protected columns
// are features by default (ExcludeProtected is false).
//
// # Splits and partitions
//
// TrainTestSplit is stratified by label. IID, Dirichlet (label skew),
// Quantity (size skew) and ByColumn (one site per value of a column, e.g. a
// hospital id) split rows among simulated clients; Partition dispatches on a
// flag such as "iid", "dirichlet:0.5", "quantity:1", "column:afam".
// Every partition is a cover of the input positions: each appears in exactly
// one part, and parts are sorted. Dirichlet tops up clients to at least
// min(10, n/k) rows by moving rows from the largest client; Quantity gives
// every client at least one row. LocalSplit carves a client's own
// evaluation rows. All randomness is math/rand/v2 PCG seeded by the seed
// argument only, so results are reproducible.
//
// Typical simulation use:
//
//	b, _ := dataset.Builtin("hmda")
//	t, _ := b.Load()
//	trainIdx, testIdx, _ := dataset.TrainTestSplit(t.Labels(), 0.2, seed)
//	train, _ := t.Subset(trainIdx)
//	parts, names, _ := dataset.Partition("dirichlet:0.5", train, 10, seed)
//	enc, _ := dataset.NewEncoder(t)
//	site, _ := train.Subset(parts[0])
//	x, _ := enc.Encode(site)
//	moments := dataset.LocalMoments(x) // summed securely across sites
package dataset
