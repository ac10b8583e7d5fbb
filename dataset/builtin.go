package dataset

import (
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"slices"
)

//go:embed data/*.csv.gz
var embedded embed.FS

// BuiltinInfo describes an embedded dataset. Rows and Positives are the
// figures documented for the shared datasets; tests check the embedded files
// against them.
type BuiltinInfo struct {
	Name        string
	Description string
	Rows        int
	Positives   int
	Schema      Schema // default schema; a fresh copy on every call
	// Favorable is the label class that is the favourable outcome for the
	// person the record describes (1: the positive class, e.g. credit
	// "Good"; 0: the positive class is adverse, e.g. a mortgage denial).
	// Fairness audits measure selection rates of the favourable outcome.
	Favorable int
}

// Embedded is a built-in dataset that can be opened or loaded.
type Embedded struct {
	BuiltinInfo
}

type builtinDef struct {
	name, desc string
	rows, pos  int
	favorable  int
	schema     func() Schema
}

var yesNo = []string{"no", "yes"}

var builtinDefs = []builtinDef{
	{
		name: "fertility",
		desc: "1980 US Census, married women 21-35 with 2+ children (AER::Fertility); label morekids=yes; " +
			"protected afam, hispanic, other (overlapping flags), age; for scale tests, not a decision outcome",
		rows: 254654, pos: 96912, favorable: 1, // positives counted with awk from fertility.csv (README: 38.1%)
		schema: func() Schema {
			return Schema{Label: "morekids", Positive: "yes", Negative: "no",
				Protected: []string{"afam", "hispanic", "other", "age"},
				Types:     map[string]ColumnType{"age": Numeric, "work": Numeric},
				Levels: map[string][]string{"gender1": {"female", "male"}, "gender2": {"female", "male"},
					"afam": yesNo, "hispanic": yesNo, "other": yesNo}}
		},
	},
	{
		name: "flchain",
		desc: "Mayo Clinic serum free light chain cohort (survival::flchain); label death=1 (died during follow-up); " +
			"protected sex, age; futime and chapter leak the label and are dropped",
		rows: 7874, pos: 2169, favorable: 0,
		schema: func() Schema {
			return Schema{Label: "death", Positive: "1", Negative: "0",
				Protected: []string{"sex", "age"}, Drop: []string{"futime", "chapter"},
				Types:  numericTypes("age", "sample.yr", "kappa", "lambda", "flc.grp", "creatinine", "mgus"),
				Levels: map[string][]string{"sex": {"F", "M"}}}
		},
	},
	{
		name: "german_credit",
		desc: "Statlog German Credit (caret::GermanCredit, one-hot groups collapsed); label Class=Good (favourable); " +
			"protected sex (derived from PersonalStatus, which stays a feature and is a proxy for it), Age, ForeignWorker",
		rows: 1000, pos: 700, favorable: 1,
		schema: func() Schema {
			s := Schema{Label: "Class", Positive: "Good", Negative: "Bad",
				Protected: []string{"sex", "Age", "ForeignWorker"},
				Types: numericTypes("Duration", "Amount", "InstallmentRatePercentage", "ResidenceDuration", "Age",
					"NumberExistingCredits", "NumberPeopleMaintenance", "Telephone", "ForeignWorker"),
				Levels: map[string][]string{
					"CheckingAccountStatus":  {"lt.0", "0.to.200", "gt.200", "none"},
					"CreditHistory":          {"NoCredit.AllPaid", "ThisBank.AllPaid", "PaidDuly", "Delay", "Critical"},
					"Purpose":                {"NewCar", "UsedCar", "Furniture.Equipment", "Radio.Television", "DomesticAppliance", "Repairs", "Education", "Retraining", "Business", "Other"},
					"SavingsAccountBonds":    {"lt.100", "100.to.500", "500.to.1000", "gt.1000", "Unknown"},
					"EmploymentDuration":     {"lt.1", "1.to.4", "4.to.7", "gt.7", "Unemployed"},
					"PersonalStatus":         {"Male.Divorced.Seperated", "Female.NotSingle", "Male.Single", "Male.Married.Widowed"},
					"OtherDebtorsGuarantors": {"None", "CoApplicant", "Guarantor"},
					"Property":               {"RealEstate", "Insurance", "CarOther", "Unknown"},
					"OtherInstallmentPlans":  {"Bank", "Stores", "None"},
					"Housing":                {"Rent", "Own", "ForFree"},
					"Job":                    {"UnemployedUnskilled", "UnskilledResident", "SkilledEmployee", "Management.SelfEmp.HighlyQualified"},
					"sex":                    {"female", "male"},
				}}
			return s
		},
	},
	{
		name: "hmda",
		desc: "Boston HMDA mortgage applications (AER::HMDA); label deny=yes (denied, adverse); protected afam, single; " +
			"insurance (denied mortgage insurance) is a near-proxy for the label but kept; chist/mhist are ordinal codes kept numeric",
		rows: 2380, pos: 285, favorable: 0,
		schema: func() Schema {
			lv := map[string][]string{}
			for _, c := range []string{"phist", "selfemp", "insurance", "condomin", "afam", "single", "hschool"} {
				lv[c] = slices.Clone(yesNo)
			}
			return Schema{Label: "deny", Positive: "yes", Negative: "no",
				Protected: []string{"afam", "single"},
				Types:     numericTypes("pirat", "hirat", "lvrat", "chist", "mhist", "unemp"),
				Levels:    lv}
		},
	},
	{
		name: "pima_diabetes",
		desc: "Pima Indians Diabetes, corrected version with impossible zeros as missing (mlbench::PimaIndiansDiabetes2); " +
			"label diabetes=pos; protected age; only 392 of 768 rows are complete",
		rows: 768, pos: 268, favorable: 0,
		schema: func() Schema {
			return Schema{Label: "diabetes", Positive: "pos", Negative: "neg",
				Protected: []string{"age"},
				Types:     numericTypes("pregnant", "glucose", "pressure", "triceps", "insulin", "mass", "pedigree", "age")}
		},
	},
}

func numericTypes(cols ...string) map[string]ColumnType {
	m := make(map[string]ColumnType, len(cols))
	for _, c := range cols {
		m[c] = Numeric
	}
	return m
}

func (d builtinDef) info() BuiltinInfo {
	return BuiltinInfo{Name: d.name, Description: d.desc, Rows: d.rows, Positives: d.pos, Schema: d.schema(), Favorable: d.favorable}
}

// Builtins lists the embedded datasets, sorted by name.
func Builtins() []BuiltinInfo {
	out := make([]BuiltinInfo, len(builtinDefs))
	for i, d := range builtinDefs {
		out[i] = d.info()
	}
	return out
}

// Builtin returns the embedded dataset with the given name.
func Builtin(name string) (*Embedded, error) {
	names := make([]string, len(builtinDefs))
	for i, d := range builtinDefs {
		if d.name == name {
			return &Embedded{d.info()}, nil
		}
		names[i] = d.name
	}
	return nil, fmt.Errorf("%w: %q; valid names are: %s", ErrUnknownDataset, name, quoteList(names))
}

// Open returns the decompressed CSV text. The caller must close it.
func (e *Embedded) Open() (io.ReadCloser, error) {
	f, err := embedded.Open("data/" + e.Name + ".csv.gz")
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrUnknownDataset, e.Name, err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dataset: opening embedded %s: %w", e.Name, err)
	}
	return &gzipFile{Reader: zr, f: f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f io.Closer
}

func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Load parses the dataset with its default schema.
func (e *Embedded) Load() (*Table, error) { return e.LoadWith(e.Schema) }

// LoadWith parses the dataset with a caller-supplied schema, e.g. the
// default with ExcludeProtected set or extra columns dropped.
func (e *Embedded) LoadWith(s Schema) (*Table, error) {
	rc, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return Load(rc, e.Name+".csv", s)
}
